"""results.json, a per-trial companion file and the printed table.

Everything here reads the dict `tfreid.evaluation.protocols` returns; metrics become percentages
with two decimals, as the papers print them, each setting's mean over its trials beside their
sample standard deviation ("std": the same keys; null for a single trial).
"""

from __future__ import annotations

import dataclasses
import json
import os

import numpy as np

from tfreid.evaluation.trials import (
    LLCM_DIRECTIONS,
    REGDB_DIRECTIONS,
    SINGLE_MODALITY_CAMERAS,
)
from tfreid.figures.tables import Column, text_table
from tfreid.files import atomic_write

SYSU_MODES = ("all", "indoor")
SYSU_SHOTS = ("single", "multi")
RANKS = (1, 5, 10, 20)
COLUMNS = ("R1", "R5", "R10", "R20", "mAP", "mINP")
METRIC_KEYS = ("rank1", "rank5", "rank10", "rank20", "mAP", "mINP")  # results.json, by column
_ROW_NAMES = {
    "single": "single-shot",
    "multi": "multi-shot",
    "visible_to_thermal": "visible -> thermal",
    "thermal_to_visible": "thermal -> visible",
    "ir_to_vis": "IR -> visible",
    "vis_to_ir": "visible -> IR (NIR draws query)",
    "single_modality": "single-modality",
    "ir_to_ir": "IR -> IR",
    "rgb_to_rgb": "RGB -> RGB",
}


def percentages(metrics: dict) -> dict:
    """{"rank1", "rank5", "rank10", "rank20", "mAP", "mINP"} in percent, two decimals.

    Args:
        metrics: {"cmc": float [>= 20] fractions, "mAP": float, "mINP": float}.
    """
    cmc = np.asarray(metrics["cmc"])
    if len(cmc) < max(RANKS):
        raise ValueError(
            f"the CMC has {len(cmc)} ranks; results need rank {max(RANKS)} (set eval.max_rank >= "
            f"{max(RANKS)})"
        )
    values = {f"rank{r}": cmc[r - 1] for r in RANKS}
    values.update(mAP=metrics["mAP"], mINP=metrics["mINP"])
    return {key: round(100.0 * float(value), 2) for key, value in values.items()}


def settings(results: dict) -> list[tuple[tuple[str, ...], dict]]:
    """The run's settings in the papers' order: ((mode, shot), ("single_modality", name) or
    (direction,), summary)."""
    runs = results["results"]
    if results["dataset"] == "sysu":
        single = runs.get("single_modality", {})
        return [
            ((mode, shot), runs[mode][shot])
            for mode in SYSU_MODES
            if mode in runs
            for shot in SYSU_SHOTS
            if shot in runs[mode]
        ] + [
            (("single_modality", name), single[name])
            for name in SINGLE_MODALITY_CAMERAS
            if name in single
        ]
    if results["dataset"] in ("regdb", "llcm"):
        directions = REGDB_DIRECTIONS if results["dataset"] == "regdb" else LLCM_DIRECTIONS
        return [((direction,), runs[direction]) for direction in directions]
    raise ValueError(
        f"results['dataset'] must be 'sysu', 'regdb' or 'llcm', got {results['dataset']!r}"
    )


def setting_name(key: tuple[str, ...]) -> str:
    """ "all / single-shot", "indoor / multi-shot", "visible -> thermal", ..."""
    return " / ".join(_ROW_NAMES.get(part, part) for part in key)


def results_json(results: dict, method: str) -> dict:
    """results.json: per setting the mean metrics and "std" (the same keys, or None for one
    trial); settings that were not run are absent.

    Args:
        results: what `tfreid.evaluation.protocols.evaluate_protocol` returned.
        method: the method's name (config `method.name`).
    """
    return _tree(results, method, _mean_and_std)


def _mean_and_std(summary: dict) -> dict:
    std = summary["std"]
    return {**percentages(summary["mean"]), "std": None if std is None else percentages(std)}


def trials_json(results: dict, method: str) -> dict:
    """The same layout with a list of per-trial percentages (each with its "trial") per setting.

    Written beside results.json (e.g. results_trials.json), whose layout docs/design.md fixes.
    """
    return _tree(
        results,
        method,
        lambda summary: [{"trial": m["trial"], **percentages(m)} for m in summary["per_trial"]],
    )


def _tree(results: dict, method: str, leaf) -> dict:
    if results["dataset"] == "sysu":
        tree: dict = {}
        for (mode, shot), summary in settings(results):
            tree.setdefault(mode, {})[shot] = leaf(summary)
        return {
            "dataset": "sysu",
            "method": method,
            "protocol": results["protocol"],
            "trials": len(results["trials"]),
            "sysu": tree,
        }
    dataset = results["dataset"]
    tree = {key[0]: leaf(summary) for key, summary in settings(results)}
    # RegDB lists its trials (each a model's own split); LLCM counts its gallery draws.
    trials = list(results["trials"]) if dataset == "regdb" else len(results["trials"])
    return {"dataset": dataset, "method": method, "trials": trials, dataset: tree}


def write_json(obj: dict, path: str) -> None:
    """Writes `obj` as indented JSON atomically (`tfreid.files.atomic_write`)."""

    def dump(f):
        json.dump(obj, f, indent=2)
        f.write("\n")

    atomic_write(path, dump)


def protocol_line(results: dict) -> str:
    """Names what produced the numbers: data set, selection protocol, trials and options."""
    trials = results["trials"]
    if results["dataset"] == "sysu":
        where = f"SYSU-MM01, {results['protocol']} gallery selection, {_over(trials)}"
    elif results["dataset"] == "llcm":
        where = f"LLCM, the authors' seeded gallery draws, {_over(trials)}"
    else:
        where = f"RegDB, {_over(trials, listed=True)}"
    options = (
        f"{results['distance']} distance, flip TTA {'on' if results['flip'] else 'off'}, "
        f"re-ranking {'on' if results['rerank'] else 'off'}"
    )
    return f"{where}; {options}"


def _over(trials: list[int], listed: bool = False) -> str:
    """ "mean ± sample std over 10 trial(s) (0-9)", or the one trial, which has no spread."""
    if len(trials) == 1:
        return f"trial {trials[0]} only (one trial: no spread)"
    which = ", ".join(map(str, trials)) if listed else f"{trials[0]}-{trials[-1]}"
    return f"mean ± sample std over {len(trials)} trial(s) ({which})"


def format_table(results: dict, method: str | None = None) -> str:
    """The papers' table: one row per setting, R1 R5 R10 R20 mAP mINP in percent, each mean
    ± the sample standard deviation over the trials (the mean alone for a single trial).

    Args:
        results: what `tfreid.evaluation.protocols.evaluate_protocol` returned.
        method: printed in the first line when given.
    """
    rows = [(setting_name(key), _mean_and_std(summary)) for key, summary in settings(results)]
    width = max(len("setting"), *(len(name) for name, _ in rows))
    cell = 16 if len(results["trials"]) > 1 else 8
    columns = [Column("setting", width, align="<"), *(Column(c, cell) for c in COLUMNS)]
    cells = [
        [name, *(_mean_and_std_cell(values, key) for key in METRIC_KEYS)] for name, values in rows
    ]
    first = f"{method}: {protocol_line(results)}" if method else protocol_line(results)
    return "\n".join([first, *text_table(columns, cells, rule=True)])


def _mean_and_std_cell(values: dict, key: str) -> str:
    """ "12.34 ± 1.23", or "12.34" without a spread."""
    std = values["std"]
    return f"{values[key]:.2f}" + ("" if std is None else f" ± {std[key]:.2f}")


def report_paths(results_path: str) -> list[str]:
    """Every file `evaluate_and_report` writes: X.json, X_trials.json, X_cmc.png and
    X_ranked.png for `results_path` X.json (tools check them writable before the work)."""
    stem = os.path.splitext(results_path)[0]
    return [results_path, f"{stem}_trials.json", f"{stem}_cmc.png", f"{stem}_ranked.png"]


def paper_rows(results: dict, paper) -> list[dict]:
    """The config's paper numbers, each with ours for the same setting.

    Args:
        results: what `evaluate_sysu` / `evaluate_regdb` returned.
        paper: the config's `paper` entries (`tfreid.config.PaperResult`).

    Returns:
        One dict per entry: its fields and "ours", {"rank1", "mAP"} in percent when this
        evaluation ran its setting with the same re-ranking choice, else None.
    """
    ours = {"/".join(key): percentages(summary["mean"]) for key, summary in settings(results)}
    rows = []
    for entry in paper:
        found = ours.get(entry.setting) if entry.rerank == bool(results["rerank"]) else None
        mine = {"rank1": found["rank1"], "mAP": found["mAP"]} if found else None
        rows.append({**dataclasses.asdict(entry), "ours": mine})
    return rows


def format_paper(results: dict, paper) -> str:
    """The paper's R1 and mAP beside ours, one line per setting this evaluation ran."""
    rows = [row for row in paper_rows(results, paper) if row["ours"] is not None]
    if not rows:
        return f"the config's {len(paper)} paper number(s): none for a setting evaluated here"
    names = [setting_name(tuple(row["setting"].split("/"))) for row in rows]
    sources = [f"{row['table']}, {row['row']}" for row in rows]
    width, source_width = max(len("setting"), *map(len, names)), max(map(len, sources))
    columns = "".join(f"{c:>10}" for c in ("paper R1", "ours R1", "paper mAP", "ours mAP"))
    lines = ["setting".ljust(width) + "  " + "paper".ljust(source_width) + columns]
    lines.append("-" * len(lines[0]))
    for name, source, row in zip(names, sources, rows, strict=True):
        values = (row["rank1"], row["ours"]["rank1"], row["mAP"], row["ours"]["mAP"])
        cells = "".join("-".rjust(10) if v is None else f"{v:>10.2f}" for v in values)
        lines.append(f"{name.ljust(width)}  {source.ljust(source_width)}{cells}")
    return "\n".join(lines)
