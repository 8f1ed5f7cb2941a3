"""The query and gallery of every setting and trial of each data set's test protocol.

docs/protocols.md states every rule and the reason for it. A `Trial` names where its numbers
go in the results (`key`), the metric rules it is scored with (`protocol`, see metrics.py) and
its samples; the lists of one data set share their sample objects, so each image is embedded
once however many trials draw it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import NamedTuple

from tfreid.config import EvalConfig
from tfreid.data import llcm, regdb, sysu
from tfreid.data.samples import IR, RGB, Sample

SHOT_NAMES = {1: "single", 10: "multi"}
REGDB_DIRECTIONS = ("visible_to_thermal", "thermal_to_visible")
LLCM_DIRECTIONS = ("ir_to_vis", "vis_to_ir")
SINGLE_MODALITY_CAMERAS = {"ir_to_ir": sysu.IR_CAMERAS, "rgb_to_rgb": sysu.RGB_CAMERAS}
# In a model path (tools/test.py --checkpoint / --saved-model): RegDB's model of each trial.
TRIAL = "{trial}"


class Trial(NamedTuple):
    """One scored query-gallery pair.

    Attributes:
        key: the setting's path in the results, e.g. ("all", "single"), ("ir_to_vis",),
            ("single_modality", "ir_to_ir").
        trial: the trial number (SYSU-MM01 and LLCM: the gallery draw's seed; RegDB: the split).
        queries: the ranked images' queries (rows of the distance matrix).
        gallery: the images each query ranks (columns).
        protocol: the rules `tfreid.evaluation.metrics.evaluate` scores it with.
    """

    key: tuple[str, ...]
    trial: int
    queries: list[Sample]
    gallery: list[Sample]
    protocol: str


def sysu_galleries(
    root: str, eval_cfg: EvalConfig, pids: Sequence[int] | None = None
) -> dict[tuple[str, str, int], list[Sample]]:
    """Every configured cross-modality gallery, keyed by (mode, "single" | "multi", trial)."""
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


def sysu_trials(root: str, eval_cfg: EvalConfig, pids: Sequence[int] | None = None) -> list[Trial]:
    """SYSU-MM01: IR queries against each mode's and shot's RGB galleries (when
    `eval.cross_modality`), then each `eval.single_modality` setting.

    Single-modality (docs/protocols.md): every image of the modality's cameras queries one
    image per (id, camera) of the same cameras, drawn as the cross-modality galleries are (the
    same seed or permutation rows), and a query never sees images of its own camera.
    """
    pids = None if pids is None else list(pids)
    trials = []
    if eval_cfg.cross_modality:
        queries = sysu.query_samples(root, pids)
        trials += [
            Trial((mode, shot), trial, queries, gallery, "sysu")
            for (mode, shot, trial), gallery in sysu_galleries(root, eval_cfg, pids).items()
        ]
    permutation_file = eval_cfg.permutation_file if eval_cfg.protocol == "official" else None
    for name in eval_cfg.single_modality:
        cameras = SINGLE_MODALITY_CAMERAS[name]
        queries = sysu.query_samples(root, pids, cameras)
        for trial in range(eval_cfg.trials):
            gallery = sysu.gallery_samples(
                root, trial=trial, permutation_file=permutation_file, pids=pids, cameras=cameras
            )
            trials.append(Trial(("single_modality", name), trial, queries, gallery, "cross_camera"))
    return trials


def regdb_trials(root: str, trials: Sequence[int]) -> list[Trial]:
    """RegDB: each trial's test split, visible -> thermal and thermal -> visible."""
    scored = []
    for trial in trials:
        visible = regdb.split_samples(root, trial, "test", "visible")
        thermal = regdb.split_samples(root, trial, "test", "thermal")
        scored.append(Trial(("visible_to_thermal",), trial, visible, thermal, "regdb"))
        scored.append(Trial(("thermal_to_visible",), trial, thermal, visible, "regdb"))
    return scored


def llcm_trials(root: str, num_trials: int) -> list[Trial]:
    """LLCM, as the authors' test code scores it (docs/protocols.md).

    ir_to_vis (their test mode [1, 2]): every NIR test image queries trial t's visible draw.
    vis_to_ir (mode [2, 1]): the authors' code embeds every visible image as the query and
    draws NIR images as the gallery, then passes the two to its metric the other way round,
    so the drawn NIR images are ranked against every visible image. The published numbers
    come from that call, so it is reproduced: its queries are the NIR draw.
    """
    every = {modality: llcm.test_samples(root, modality) for modality in (RGB, IR)}
    ir_to_vis = [
        Trial(("ir_to_vis",), t, every[IR], llcm.gallery_samples(root, RGB, t), "llcm")
        for t in range(num_trials)
    ]
    vis_to_ir = [
        Trial(("vis_to_ir",), t, llcm.gallery_samples(root, IR, t), every[RGB], "llcm")
        for t in range(num_trials)
    ]
    return ir_to_vis + vis_to_ir


def trial_models(pattern: str) -> dict[int, str]:
    """{trial: path} of the RegDB trials whose model exists where `pattern` names it (with
    `TRIAL` standing for the trial number).

    Raises:
        FileNotFoundError: no trial has a model there.
    """
    paths = {t: pattern.replace(TRIAL, str(t)) for t in range(1, regdb.NUM_TRIALS + 1)}
    found = {t: p for t, p in paths.items() if os.path.exists(p) or os.path.exists(p + ".index")}
    if not found:
        raise FileNotFoundError(f"no model at {pattern} for any RegDB trial 1-{regdb.NUM_TRIALS}")
    return found
