"""The SYSU-MM01 and RegDB test protocols (METHODS.md, "Evaluation protocols, exactly").

An embedding function goes in (see features.py); a plain dict of metrics comes out:

    {"dataset": "sysu", "protocol": "seeded" | "official", "trials": [0, ..., 9],
     "distance": "cosine", "flip": False, "rerank": False,
     "results": {"all": {"single": {"mean": METRICS, "per_trial": [METRICS + {"trial": t}]},
                         "multi": {...}},
                 "indoor": {...}}}
    {"dataset": "regdb", "trials": [1, ...], "distance": ..., "flip": ..., "rerank": ...,
     "results": {"visible_to_thermal": {"mean": ..., "per_trial": [...]},
                 "thermal_to_visible": {...}}}

METRICS is {"cmc": float64 [max_rank] fractions, "mAP": float, "mINP": float}. Only the
configured modes and shots appear. The CMC is always max_rank long: beyond the gallery size it
is 1, since every counted query has its match in the gallery.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tfreid.config import ConfigError, DataConfig, EvalConfig
from tfreid.data import regdb, sysu
from tfreid.data.samples import Sample
from tfreid.evaluation.features import EmbedFn, distance, extract_features
from tfreid.evaluation.metrics import evaluate
from tfreid.evaluation.reranking import re_ranking

SHOT_NAMES = {1: "single", 10: "multi"}
DIRECTIONS = ("visible_to_thermal", "thermal_to_visible")


def evaluate_protocol(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    pids: Sequence[int] | None = None,
    progress: bool = True,
) -> dict:
    """Runs the protocol of `data_cfg.dataset` (see `evaluate_sysu`, `evaluate_regdb`)."""
    if data_cfg.dataset == "sysu":
        return evaluate_sysu(embed_fn, data_cfg, eval_cfg, pids=pids, progress=progress)
    if data_cfg.dataset == "regdb":
        if pids is not None:
            raise ValueError("pids selects SYSU-MM01 identities; RegDB uses its split files")
        return evaluate_regdb(embed_fn, data_cfg, eval_cfg, progress=progress)
    raise ConfigError(f"data.dataset: expected 'sysu' or 'regdb', got {data_cfg.dataset!r}")


def sysu_galleries(
    root: str, eval_cfg: EvalConfig, pids: Sequence[int] | None = None
) -> dict[tuple[str, str, int], list[Sample]]:
    """Every configured gallery, keyed by (mode, "single" | "multi", trial)."""
    permutation_file = _permutation_file(eval_cfg)
    _check_sysu_settings(eval_cfg)
    pids = None if pids is None else list(pids)
    return {
        (mode, SHOT_NAMES[shots], trial): sysu.gallery_samples(
            root, mode, shots, trial, permutation_file=permutation_file, pids=pids
        )
        for mode in eval_cfg.modes
        for shots in eval_cfg.shots
        for trial in range(eval_cfg.trials)
    }


def evaluate_sysu(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    pids: Sequence[int] | None = None,
    progress: bool = True,
) -> dict:
    """SYSU-MM01: IR queries against RGB galleries re-drawn per trial, per mode and shot.

    Every query and every distinct gallery image is embedded once, however many trials,
    modes and shots draw it.

    Args:
        embed_fn: see features.py.
        data_cfg: root and image size.
        eval_cfg: modes, shots, trials, selection protocol, distance, flip, re-ranking.
        pids: evaluate these ids instead of the test ids (validation during training).
        progress: show progress bars.

    Returns:
        The dict described in the module docstring.
    """
    galleries = sysu_galleries(data_cfg.root, eval_cfg, pids)
    queries = sysu.query_samples(data_cfg.root, None if pids is None else list(pids))
    features, rows = _embed_once(
        embed_fn, [queries, *galleries.values()], data_cfg, eval_cfg, progress
    )
    q_features = features[rows[0]]
    q_q = distance(q_features, q_features, eval_cfg.distance) if eval_cfg.rerank else None
    per_trial: dict[str, dict[str, list[dict]]] = {}
    for ((mode, shot, trial), gallery), g_rows in zip(galleries.items(), rows[1:], strict=True):
        g_features = features[g_rows]
        g_g = distance(g_features, g_features, eval_cfg.distance) if eval_cfg.rerank else None
        distmat = _reranked(distance(q_features, g_features, eval_cfg.distance), q_q, g_g)
        metrics = _metrics(distmat, queries, gallery, eval_cfg.max_rank, "sysu")
        per_trial.setdefault(mode, {}).setdefault(shot, []).append({"trial": trial, **metrics})
    results = {
        mode: {shot: _summary(trials) for shot, trials in shots.items()}
        for mode, shots in per_trial.items()
    }
    header = {"dataset": "sysu", "protocol": eval_cfg.protocol}
    return {**header, **_run_settings(eval_cfg, list(range(eval_cfg.trials))), "results": results}


def evaluate_regdb(
    embed_fn: EmbedFn, data_cfg: DataConfig, eval_cfg: EvalConfig, progress: bool = True
) -> dict:
    """RegDB: each requested trial's test split, visible->thermal and thermal->visible.

    The real protocol trains one model per trial; this scores the one `embed_fn` it is given
    on every trial in `eval_cfg.regdb_trials`, so a trainer calls it once per trial with that
    trial's model (and `regdb_trials` set to that trial).

    Args:
        embed_fn: see features.py.
        data_cfg: root and image size.
        eval_cfg: regdb_trials, distance, flip, re-ranking, max_rank.
        progress: show progress bars.

    Returns:
        The dict described in the module docstring.
    """
    trials = _check_regdb_trials(eval_cfg.regdb_trials)
    per_trial: dict[str, list[dict]] = {direction: [] for direction in DIRECTIONS}
    splits = [
        regdb.split_samples(data_cfg.root, trial, "test", modality)
        for trial in trials
        for modality in ("visible", "thermal")
    ]
    features, rows = _embed_once(embed_fn, splits, data_cfg, eval_cfg, progress)
    for index, trial in enumerate(trials):
        visible, thermal = splits[2 * index], splits[2 * index + 1]
        v, t = features[rows[2 * index]], features[rows[2 * index + 1]]
        v_t = distance(v, t, eval_cfg.distance)
        v_v = distance(v, v, eval_cfg.distance) if eval_cfg.rerank else None
        t_t = distance(t, t, eval_cfg.distance) if eval_cfg.rerank else None
        scored = {
            "visible_to_thermal": (_reranked(v_t, v_v, t_t), visible, thermal),
            "thermal_to_visible": (_reranked(v_t.T, t_t, v_v), thermal, visible),
        }
        for direction, (distmat, queries, gallery) in scored.items():
            metrics = _metrics(distmat, queries, gallery, eval_cfg.max_rank, "regdb")
            per_trial[direction].append({"trial": trial, **metrics})
    results = {direction: _summary(scores) for direction, scores in per_trial.items()}
    return {"dataset": "regdb", **_run_settings(eval_cfg, trials), "results": results}


def _embed_once(embed_fn, sample_lists, data_cfg, eval_cfg, progress):
    """Embeds every distinct image of the lists once, in one pass (one trace of embed_fn).

    Returns:
        float32 [num_distinct, D] features and, per list, int [len(list)] rows into them.
    """
    distinct = list(dict.fromkeys(sample for samples in sample_lists for sample in samples))
    features = extract_features(
        embed_fn,
        distinct,
        data_cfg,
        batch_size=eval_cfg.batch_size,
        flip=eval_cfg.flip,
        progress=progress,
        desc=f"embedding {len(distinct)} images",
    )
    row_of = {sample: row for row, sample in enumerate(distinct)}
    return features, [np.array([row_of[s] for s in samples]) for samples in sample_lists]


def _reranked(q_g, q_q, g_g) -> np.ndarray:
    """k-reciprocally re-ranked query-gallery distance; `q_g` itself when q_q is None."""
    return q_g if q_q is None else re_ranking(q_g, q_q, g_g)


def _metrics(distmat, queries, gallery, max_rank, protocol) -> dict:
    metrics = evaluate(
        distmat,
        np.array([s.pid for s in queries]),
        np.array([s.pid for s in gallery]),
        np.array([s.camid for s in queries]),
        np.array([s.camid for s in gallery]),
        max_rank=max_rank,
        protocol=protocol,
    )
    cmc = metrics["cmc"]
    # `evaluate` cuts the CMC at the gallery size; every counted query is matched by then.
    metrics["cmc"] = np.concatenate([cmc, np.full(max_rank - len(cmc), cmc[-1])])
    return metrics


def _summary(per_trial: list[dict]) -> dict:
    mean = {
        "cmc": np.mean([m["cmc"] for m in per_trial], axis=0),
        "mAP": float(np.mean([m["mAP"] for m in per_trial])),
        "mINP": float(np.mean([m["mINP"] for m in per_trial])),
    }
    return {"mean": mean, "per_trial": per_trial}


def _run_settings(eval_cfg: EvalConfig, trials: list[int]) -> dict:
    return {
        "trials": trials,
        "distance": eval_cfg.distance,
        "flip": eval_cfg.flip,
        "rerank": eval_cfg.rerank,
    }


def _permutation_file(eval_cfg: EvalConfig) -> str | None:
    if eval_cfg.protocol == "official":
        if not eval_cfg.permutation_file:
            raise ConfigError(
                "eval.protocol is 'official' but eval.permutation_file is not set: point it "
                "to the SYSU-MM01 kit's rand_perm_cam.mat"
            )
        return eval_cfg.permutation_file
    if eval_cfg.protocol != "seeded":
        raise ConfigError(
            f"eval.protocol: expected 'seeded' or 'official', got {eval_cfg.protocol!r}"
        )
    if eval_cfg.permutation_file:
        raise ConfigError(
            f"eval.permutation_file is set ({eval_cfg.permutation_file}) but eval.protocol is "
            "'seeded'; set eval.protocol to 'official' to use the file"
        )
    return None


def _check_sysu_settings(eval_cfg: EvalConfig) -> None:
    modes = eval_cfg.modes
    if not modes or len(set(modes)) != len(modes) or not set(modes) <= set(sysu.GALLERY_CAMERAS):
        raise ConfigError(f"eval.modes: expected distinct values of ['all', 'indoor'], got {modes}")
    shots = eval_cfg.shots
    if not shots or len(set(shots)) != len(shots) or not set(shots) <= set(SHOT_NAMES):
        raise ConfigError(
            f"eval.shots: expected distinct values of [1, 10] (single-, multi-shot), got {shots}"
        )
    if not 1 <= eval_cfg.trials <= sysu.NUM_TRIALS:
        raise ConfigError(f"eval.trials: expected 1..{sysu.NUM_TRIALS}, got {eval_cfg.trials}")
    if eval_cfg.max_rank < 1:
        raise ConfigError(f"eval.max_rank: expected a positive integer, got {eval_cfg.max_rank}")


def _check_regdb_trials(trials: list[int]) -> list[int]:
    valid = range(1, regdb.NUM_TRIALS + 1)
    if not trials or len(set(trials)) != len(trials) or any(t not in valid for t in trials):
        raise ConfigError(
            f"eval.regdb_trials: expected distinct trials in 1..{regdb.NUM_TRIALS}, got {trials}"
        )
    return list(trials)
