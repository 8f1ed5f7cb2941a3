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

An `example(queries, gallery, distmat)` callback receives the first setting's samples and its
(re-ranked) query-gallery distances, so a picture of ranked lists needs no embedding of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from tfreid.config import ConfigError, DataConfig, EvalConfig
from tfreid.data import regdb, sysu
from tfreid.data.samples import Sample
from tfreid.evaluation.features import EmbedFn, distance, extract_features
from tfreid.evaluation.metrics import evaluate
from tfreid.evaluation.reranking import re_ranking

SHOT_NAMES = {1: "single", 10: "multi"}
DIRECTIONS = ("visible_to_thermal", "thermal_to_visible")


Example = Callable[[list[Sample], list[Sample], np.ndarray], None]


def evaluate_protocol(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    pids: Sequence[int] | None = None,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """Runs the protocol of `data_cfg.dataset` (see `evaluate_sysu`, `evaluate_regdb`)."""
    if data_cfg.dataset == "sysu":
        return evaluate_sysu(embed_fn, data_cfg, eval_cfg, pids, progress, example)
    if data_cfg.dataset == "regdb":
        if pids is not None:
            raise ValueError("pids selects SYSU-MM01 identities; RegDB uses its split files")
        return evaluate_regdb(embed_fn, data_cfg, eval_cfg, progress=progress, example=example)
    raise ConfigError(f"data.dataset: expected 'sysu' or 'regdb', got {data_cfg.dataset!r}")


def sysu_galleries(
    root: str, eval_cfg: EvalConfig, pids: Sequence[int] | None = None
) -> dict[tuple[str, str, int], list[Sample]]:
    """Every configured gallery, keyed by (mode, "single" | "multi", trial)."""
    permutation_file = eval_cfg.permutation_file if eval_cfg.protocol == "official" else None
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
    example: Example | None = None,
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
        example: called with the first setting's queries, gallery and distances.

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
        if example is not None and not per_trial:
            example(queries, gallery, distmat)
        metrics = _metrics(distmat, queries, gallery, eval_cfg.max_rank, "sysu")
        per_trial.setdefault(mode, {}).setdefault(shot, []).append({"trial": trial, **metrics})
    results = {
        mode: {shot: _summary(trials) for shot, trials in shots.items()}
        for mode, shots in per_trial.items()
    }
    header = {"dataset": "sysu", "protocol": eval_cfg.protocol}
    return {**header, **_run_settings(eval_cfg, list(range(eval_cfg.trials))), "results": results}


def evaluate_regdb(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    trials: Sequence[int] | None = None,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """RegDB: each trial's test split, visible->thermal and thermal->visible.

    The real protocol trains one model per trial, so by default the one `embed_fn` is scored
    on its own trial, `data.regdb_trial` (other trials' test ids are its training ids).

    Args:
        embed_fn: see features.py.
        data_cfg: root, image size and regdb_trial.
        eval_cfg: distance, flip, re-ranking, max_rank.
        trials: score these trials instead (all with this one model).
        progress: show progress bars.
        example: called with the first trial's visible->thermal queries, gallery and
            distances.

    Returns:
        The dict described in the module docstring.
    """
    trials = _check_regdb_trials([data_cfg.regdb_trial] if trials is None else list(trials))
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
        if example is not None and index == 0:
            first, queries, gallery = scored["visible_to_thermal"]
            example(queries, gallery, first)
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
        flip=eval_cfg.flip_average,
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
        "flip": eval_cfg.flip_average,
        "rerank": eval_cfg.rerank,
    }


def _check_regdb_trials(trials: list[int]) -> list[int]:
    valid = range(1, regdb.NUM_TRIALS + 1)
    if not trials or len(set(trials)) != len(trials) or any(t not in valid for t in trials):
        raise ValueError(
            f"RegDB trials: expected distinct trials in 1..{regdb.NUM_TRIALS}, got {trials}"
        )
    return trials
