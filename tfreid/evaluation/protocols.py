"""The SYSU-MM01, RegDB and LLCM test protocols (docs/protocols.md), every setting in one run.

An embedding function goes in (see features.py); a plain dict of metrics comes out:

    {"dataset": "sysu", "protocol": "seeded" | "official", "trials": [0, ..., 9],
     "distance": "cosine", "flip": False, "rerank": False,
     "results": {"all": {"single": SUMMARY, "multi": SUMMARY}, "indoor": {...},
                 "single_modality": {"ir_to_ir": SUMMARY, "rgb_to_rgb": SUMMARY}},
     "embedded": Embedded(samples, features, trial=None)}
    {"dataset": "regdb", "trials": [1, ...], ...,
     "results": {"visible_to_thermal": SUMMARY, "thermal_to_visible": SUMMARY}, ...}
    {"dataset": "llcm", "trials": [0, ..., 9], ...,
     "results": {"ir_to_vis": SUMMARY, "vis_to_ir": SUMMARY}, ...}

SUMMARY is {"mean": METRICS, "std": METRICS or None, "per_trial": [METRICS + {"trial": t}]}
and METRICS {"cmc": float64 [max_rank] fractions, "mAP": float, "mINP": float}. "std" is the
sample standard deviation over the trials (ddof=1; None for a single trial: one trial measures
no spread). Only the configured SYSU-MM01 modes, shots and single-modality settings appear.
The CMC is always max_rank long: beyond the gallery size it is 1, since every counted query
has its match in the gallery. "embedded" (`scoring.Embedded`) holds every image any setting
scored and its embedding (what `tools/test.py --features` writes).

An `example(queries, gallery, distmat)` callback receives the first setting's samples and its
(re-ranked) query-gallery distances with the pairs its protocol removes set to +inf, so a
picture of ranked lists needs no embedding of its own and shows what the metric ranked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from tfreid.config import ConfigError, DataConfig, EvalConfig
from tfreid.data import regdb
from tfreid.evaluation.features import EmbedFn
from tfreid.evaluation.scoring import Embedded, Example, score, summary_tree
from tfreid.evaluation.trials import Trial, llcm_trials, regdb_trials, sysu_trials

# RegDB trains a model per trial: {trial: a function that loads that trial's model}.
TrialModels = Mapping[int, Callable[[], EmbedFn]]


def evaluate_protocol(
    embed_fn: EmbedFn | TrialModels,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    pids: Sequence[int] | None = None,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """Runs every setting of `data_cfg.dataset`'s protocol (`evaluate_sysu`, `evaluate_regdb`,
    `evaluate_llcm`); `embed_fn` may be RegDB's models of several trials (`TrialModels`)."""
    if isinstance(embed_fn, Mapping) and data_cfg.dataset != "regdb":
        raise ValueError(f"one model per trial is RegDB's protocol, not {data_cfg.dataset}'s")
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
    return {**header, **run, **_scored(embed_fn, trials, data_cfg, eval_cfg, progress, example)}


def evaluate_regdb(
    embed_fn: EmbedFn | TrialModels,
    data_cfg: DataConfig,
    eval_cfg: EvalConfig,
    trials: Sequence[int] | None = None,
    progress: bool = True,
    example: Example | None = None,
) -> dict:
    """RegDB: each trial's test split, visible->thermal and thermal->visible.

    The real protocol trains one model per trial, so by default the one `embed_fn` is scored
    on its own trial, `data.regdb_trial` (other trials' test ids are its training ids). Given
    the models of several trials (`TrialModels`), each scores its own trial, loaded in turn:
    the results are the mean and spread over those trials, as the papers average RegDB.

    Args:
        embed_fn: see features.py; or {trial: a function returning that trial's model}.
        data_cfg: root, image size and regdb_trial.
        eval_cfg: distance, flip, re-ranking, max_rank.
        trials: score these trials instead (all with this one model).
        progress: show progress bars.
        example: called with the first trial's visible->thermal queries, gallery and
            distances.

    Returns:
        The dict described in the module docstring.
    """
    if isinstance(embed_fn, Mapping):
        trials = _check_regdb_trials(sorted(embed_fn))
        scored = _per_trial_models(embed_fn, trials, data_cfg, eval_cfg, progress, example)
        return {"dataset": "regdb", **_run_settings(eval_cfg, trials), **scored}
    trials = _check_regdb_trials([data_cfg.regdb_trial] if trials is None else list(trials))
    scored = _scored(
        embed_fn, regdb_trials(data_cfg.root, trials), data_cfg, eval_cfg, progress, example
    )
    return {"dataset": "regdb", **_run_settings(eval_cfg, trials), **scored}


def _per_trial_models(models: TrialModels, trials, data_cfg, eval_cfg, progress, example) -> dict:
    """Each trial scored with its own model; the embeddings of all, each row tagged with the
    trial whose model embedded it."""
    per_key: dict[tuple[str, ...], list[dict]] = {}
    parts = []
    for index, trial in enumerate(trials):
        scored, embedded = score(
            models[trial](),
            regdb_trials(data_cfg.root, [trial]),
            data_cfg,
            eval_cfg,
            progress,
            example if index == 0 else None,
        )
        for key, rows in scored.items():
            per_key.setdefault(key, []).extend(rows)
        parts.append((trial, embedded))
    embedded = Embedded(
        [s for _, part in parts for s in part.samples],
        np.concatenate([part.features for _, part in parts]),
        np.concatenate([np.full(len(part.samples), trial) for trial, part in parts]),
    )
    return {"results": summary_tree(per_key), "embedded": embedded}


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
        **_scored(embed_fn, trials, data_cfg, eval_cfg, progress, example),
    }


def _scored(embed_fn, trials: list[Trial], data_cfg, eval_cfg, progress, example) -> dict:
    per_key, embedded = score(embed_fn, trials, data_cfg, eval_cfg, progress, example)
    return {"results": summary_tree(per_key), "embedded": embedded}


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
