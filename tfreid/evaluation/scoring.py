"""Scores query-gallery trials (trials.py) with one embedding function, and summarises them.

Each distinct image is embedded once, however many trials use it; each trial's distances (and,
when configured, their k-reciprocal re-ranking) go to `metrics.evaluate` under the trial's
protocol. A setting's summary is the mean over its trials and their sample standard deviation
(ddof=1: the trials are a sample of the possible gallery draws or splits, and the spread is
that of a result under another draw; None for one trial, which measures no spread).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tfreid.config import DataConfig, EvalConfig
from tfreid.data.samples import Sample
from tfreid.evaluation.features import EmbedFn, distance, extract_features
from tfreid.evaluation.metrics import evaluate, removed_pairs
from tfreid.evaluation.reranking import re_ranking
from tfreid.evaluation.trials import Trial

Example = Callable[[list[Sample], list[Sample], np.ndarray], None]


class Embedded(NamedTuple):
    """Every image a run scored, once each, and its embedding.

    Attributes:
        samples: the distinct images, in the order they were first needed.
        features: float32 [len(samples), D] their embeddings (flip-averaged when configured).
        trial: int [len(samples)] the RegDB trial whose model embedded each row, when each
            trial has its own model (an image then appears once per trial); else None.
    """

    samples: list[Sample]
    features: np.ndarray
    trial: np.ndarray | None = None


def score(
    embed_fn: EmbedFn,
    trials: list[Trial],
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    progress: bool = True,
    example: Example | None = None,
) -> tuple[dict[tuple[str, ...], list[dict]], Embedded]:
    """Every trial's metrics, by setting key in the trials' order, and the embeddings.

    Args:
        embed_fn: see features.py.
        trials: what to score (trials.py).
        data_cfg: image size.
        eval_cfg: distance, flip, re-ranking, batch size, max_rank.
        progress: show progress bars.
        example: called with the first trial's samples and distances (removed pairs +inf).

    Returns:
        ({key: [METRICS + {"trial": t}]}, Embedded).
    """
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
    return per_key, embedded


def summary_tree(per_key: dict[tuple[str, ...], list[dict]]) -> dict:
    """{key[0]: {key[1]: SUMMARY}} (or {key[0]: SUMMARY}) of the per-trial metrics."""
    results: dict = {}
    for key, per_trial in per_key.items():
        node = results
        for part in key[:-1]:
            node = node.setdefault(part, {})
        node[key[-1]] = summary(per_trial)
    return results


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


def summary(per_trial: list[dict]) -> dict:
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
