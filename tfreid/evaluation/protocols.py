"""The SYSU-MM01, RegDB and LLCM test protocols (docs/protocols.md), every setting in one run.

An embedding function goes in (see features.py); a plain dict of metrics comes out:

    {"dataset": "sysu", "protocol": "seeded" | "official", "trials": [0, ..., 9],
     "distance": "cosine", "flip": False, "rerank": False,
     "results": {"all": {"single": SUMMARY, "multi": SUMMARY}, "indoor": {...},
                 "single_modality": {"ir_to_ir": SUMMARY, "rgb_to_rgb": SUMMARY}},
     "embedded": Embedded(samples, features)}
    {"dataset": "regdb", "trials": [1, ...], ...,
     "results": {"visible_to_thermal": SUMMARY, "thermal_to_visible": SUMMARY}, ...}
    {"dataset": "llcm", "trials": [0, ..., 9], ...,
     "results": {"ir_to_vis": SUMMARY, "vis_to_ir": SUMMARY}, ...}

SUMMARY is {"mean": METRICS, "std": METRICS or None, "per_trial": [METRICS + {"trial": t}]}
and METRICS {"cmc": float64 [max_rank] fractions, "mAP": float, "mINP": float}. "std" is the
sample standard deviation over the trials (ddof=1; None for a single trial: one trial measures
no spread). Only the configured SYSU-MM01 modes, shots and single-modality settings appear.
The CMC is always max_rank long: beyond the gallery size it is 1, since every counted query
has its match in the gallery. "embedded" holds every image any setting scored and its
embedding (what `tools/test.py --features` writes).

An `example(queries, gallery, distmat)` callback receives the first setting's samples and its
(re-ranked) query-gallery distances with the pairs its protocol removes set to +inf, so a
picture of ranked lists needs no embedding of its own and shows what the metric ranked.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np

from tfreid.config import ConfigError, DataConfig, EvalConfig
from tfreid.data import regdb
from tfreid.data.samples import Sample
from tfreid.evaluation.features import EmbedFn, distance, extract_features
from tfreid.evaluation.metrics import evaluate, removed_pairs
from tfreid.evaluation.reranking import re_ranking
from tfreid.evaluation.trials import Trial, llcm_trials, regdb_trials, sysu_trials

Example = Callable[[list[Sample], list[Sample], np.ndarray], None]


class Embedded(NamedTuple):
    """Every image a run scored, once each, and its embedding.

    Attributes:
        samples: the distinct images, in the order they were first needed.
        features: float32 [len(samples), D] their embeddings (flip-averaged when configured).
    """

    samples: list[Sample]
    features: np.ndarray


def evaluate_protocol(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    pids: Sequence[int] | None = None,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """Runs every setting of `data_cfg.dataset`'s protocol (`evaluate_sysu`, `evaluate_regdb`,
    `evaluate_llcm`)."""
    if data_cfg.dataset == "sysu":
        return evaluate_sysu(embed_fn, data_cfg, eval_cfg, pids, progress, example)
    if pids is not None:
        raise ValueError(f"pids selects SYSU-MM01 identities; {data_cfg.dataset} has split files")
    if data_cfg.dataset == "regdb":
        return evaluate_regdb(embed_fn, data_cfg, eval_cfg, progress=progress, example=example)
    if data_cfg.dataset == "llcm":
        return evaluate_llcm(embed_fn, data_cfg, eval_cfg, progress, example)
    raise ConfigError(f"data.dataset: expected 'sysu', 'regdb' or 'llcm', got {data_cfg.dataset!r}")


def evaluate_sysu(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    pids: Sequence[int] | None = None,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """SYSU-MM01: IR queries against RGB galleries re-drawn per trial, per mode and shot, and
    the configured single-modality settings (`trials.sysu_trials`).

    Args:
        embed_fn: see features.py.
        data_cfg: root and image size.
        eval_cfg: modes, shots, single-modality settings, trials, selection protocol,
            distance, flip, re-ranking.
        pids: evaluate these ids instead of the test ids (validation during training).
        progress: show progress bars.
        example: called with the first setting's queries, gallery and distances.

    Returns:
        The dict described in the module docstring.
    """
    trials = sysu_trials(data_cfg.root, eval_cfg, pids)
    header = {"dataset": "sysu", "protocol": eval_cfg.protocol}
    run = _run_settings(eval_cfg, list(range(eval_cfg.trials)))
    return {**header, **run, **_score(embed_fn, trials, data_cfg, eval_cfg, progress, example)}


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
    scored = _score(
        embed_fn, regdb_trials(data_cfg.root, trials), data_cfg, eval_cfg, progress, example
    )
    return {"dataset": "regdb", **_run_settings(eval_cfg, trials), **scored}


def evaluate_llcm(
    embed_fn: EmbedFn,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """LLCM: ir_to_vis and vis_to_ir over `eval.trials` seeded draws (`trials.llcm_trials`).

    Args:
        embed_fn: see features.py.
        data_cfg: root and image size.
        eval_cfg: trials, distance, flip, re-ranking, max_rank.
        progress: show progress bars.
        example: called with trial 0 of ir_to_vis: its queries, gallery and distances.

    Returns:
        The dict described in the module docstring.
    """
    trials = llcm_trials(data_cfg.root, eval_cfg.trials)
    run = _run_settings(eval_cfg, list(range(eval_cfg.trials)))
    return {
        "dataset": "llcm",
        **run,
        **_score(embed_fn, trials, data_cfg, eval_cfg, progress, example),
    }


def _score(embed_fn, trials: list[Trial], data_cfg, eval_cfg, progress, example) -> dict:
    """{"results": {key...: SUMMARY}, "embedded": Embedded} of every trial, embedding each
    distinct image once, in one pass."""
    embedded = _embed_once(embed_fn, trials, data_cfg, eval_cfg, progress)
    rows = _Rows(embedded.samples)
    self_distances = _SelfDistances(embedded.features, eval_cfg.distance)
    per_key: dict[tuple[str, ...], list[dict]] = {}
    for index, trial in enumerate(trials):
        q_rows, g_rows = rows(trial.queries), rows(trial.gallery)
        distmat = distance(embedded.features[q_rows], embedded.features[g_rows], eval_cfg.distance)
        if eval_cfg.rerank:
            distmat = re_ranking(distmat, self_distances(q_rows), self_distances(g_rows))
        if example is not None and index == 0:
            example(trial.queries, trial.gallery, _hide_removed(distmat, trial))
        metrics = _metrics(distmat, trial.queries, trial.gallery, eval_cfg.max_rank, trial.protocol)
        per_key.setdefault(trial.key, []).append({"trial": trial.trial, **metrics})
    results: dict = {}
    for key, per_trial in per_key.items():
        node = results
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = _summary(per_trial)
    return {"results": results, "embedded": embedded}


def _embed_once(embed_fn, trials, data_cfg, eval_cfg, progress) -> Embedded:
    """Embeds every distinct image of the trials once (one trace of embed_fn)."""
    lists = {id(samples): samples for t in trials for samples in (t.queries, t.gallery)}
    distinct = list(dict.fromkeys(s for samples in lists.values() for s in samples))
    features = extract_features(
        embed_fn,
        distinct,
        data_cfg,
        batch_size=eval_cfg.batch_size,
        flip=eval_cfg.flip_average,
        progress=progress,
        desc=f"embedding {len(distinct)} images",
    )
    return Embedded(distinct, features)


class _Rows:
    """int [len(samples)] rows into the embedded features of a sample list (lists shared by
    several trials are looked up once)."""

    def __init__(self, distinct: list[Sample]):
        self.row_of = {sample: row for row, sample in enumerate(distinct)}
        self.cache: dict[int, tuple[list[Sample], np.ndarray]] = {}

    def __call__(self, samples: list[Sample]) -> np.ndarray:
        if id(samples) not in self.cache:  # the list is kept too, so its id stays its own
            self.cache[id(samples)] = (samples, np.array([self.row_of[s] for s in samples]))
        return self.cache[id(samples)][1]


class _SelfDistances:
    """Distances within a set of rows, for re-ranking; the last few sets are kept (the SYSU
    queries, LLCM's visible set and a RegDB trial's two splits recur)."""

    def __init__(self, features: np.ndarray, metric: str, keep: int = 3):
        self.features, self.metric, self.keep = features, metric, keep
        self.cache: OrderedDict[bytes, np.ndarray] = OrderedDict()

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        key = rows.tobytes()
        if key not in self.cache:
            points = self.features[rows]
            self.cache[key] = distance(points, points, self.metric)
            while len(self.cache) > self.keep:
                self.cache.popitem(last=False)
        self.cache.move_to_end(key)
        return self.cache[key]


def _hide_removed(distmat: np.ndarray, trial: Trial) -> np.ndarray:
    """`distmat` with the pairs the trial's protocol removes at +inf."""
    removed = removed_pairs(
        trial.protocol,
        [s.pid for s in trial.queries],
        [s.pid for s in trial.gallery],
        [s.camid for s in trial.queries],
        [s.camid for s in trial.gallery],
    )
    return distmat if removed is None else np.where(removed, np.inf, distmat)


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
    """Mean and sample standard deviation (ddof=1, None for one trial) over the trials."""

    def over_trials(reduce):
        return {
            "cmc": reduce([m["cmc"] for m in per_trial]),
            "mAP": float(reduce([m["mAP"] for m in per_trial])),
            "mINP": float(reduce([m["mINP"] for m in per_trial])),
        }

    mean = over_trials(lambda values: np.mean(values, axis=0))
    std = over_trials(lambda values: np.std(values, axis=0, ddof=1)) if len(per_trial) > 1 else None
    return {"mean": mean, "std": std, "per_trial": per_trial}


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
