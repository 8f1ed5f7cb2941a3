"""results.json (DESIGN.md), a per-trial companion file and the printed table.

Everything here reads the dict `tfreid.evaluation.protocols` returns; metrics become percentages
with two decimals, as the papers print them.
"""

from __future__ import annotations

import json
import os

import numpy as np

from tfreid.files import atomic_write

SYSU_MODES = ("all", "indoor")
SYSU_SHOTS = ("single", "multi")
REGDB_DIRECTIONS = ("visible_to_thermal", "thermal_to_visible")
RANKS = (1, 5, 10, 20)
COLUMNS = ("R1", "R5", "R10", "R20", "mAP", "mINP")
_ROW_NAMES = {
    "single": "single-shot",
    "multi": "multi-shot",
    "visible_to_thermal": "visible -> thermal",
    "thermal_to_visible": "thermal -> visible",
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
    """The run's settings in the papers' order: ((mode, shot) or (direction,), summary)."""
    runs = results["results"]
    if results["dataset"] == "sysu":
        return [
            ((mode, shot), runs[mode][shot])
            for mode in SYSU_MODES
            if mode in runs
            for shot in SYSU_SHOTS
            if shot in runs[mode]
        ]
    if results["dataset"] == "regdb":
        return [((direction,), runs[direction]) for direction in REGDB_DIRECTIONS]
    raise ValueError(f"results['dataset'] must be 'sysu' or 'regdb', got {results['dataset']!r}")


def setting_name(key: tuple[str, ...]) -> str:
    """ "all / single-shot", "indoor / multi-shot", "visible -> thermal", ..."""
    return " / ".join(_ROW_NAMES.get(part, part) for part in key)


def results_json(results: dict, method: str) -> dict:
    """results.json exactly as DESIGN.md gives it; settings that were not run are absent.

    Args:
        results: what `evaluate_sysu` / `evaluate_regdb` returned.
        method: the method's name (config `method.name`).
    """
    return _tree(results, method, lambda summary: percentages(summary["mean"]))


def trials_json(results: dict, method: str) -> dict:
    """The same layout with a list of per-trial percentages (each with its "trial") per setting.

    Written beside results.json (e.g. results_trials.json), which must keep DESIGN.md's layout.
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
    tree = {key[0]: leaf(summary) for key, summary in settings(results)}
    return {"dataset": "regdb", "method": method, "trials": list(results["trials"]), "regdb": tree}


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
        where = (
            f"SYSU-MM01, {results['protocol']} gallery selection, "
            f"mean over {len(trials)} trial(s) ({trials[0]}-{trials[-1]})"
        )
    else:
        where = f"RegDB, mean over trial(s) {', '.join(str(t) for t in trials)}"
    options = (
        f"{results['distance']} distance, flip TTA {'on' if results['flip'] else 'off'}, "
        f"re-ranking {'on' if results['rerank'] else 'off'}"
    )
    return f"{where}; {options}"


def format_table(results: dict, method: str | None = None) -> str:
    """The papers' table: one row per setting, R1 R5 R10 R20 mAP mINP in percent.

    Args:
        results: what `evaluate_sysu` / `evaluate_regdb` returned.
        method: printed in the first line when given.
    """
    rows = [(setting_name(key), percentages(summary["mean"])) for key, summary in settings(results)]
    width = max(len("setting"), *(len(name) for name, _ in rows))
    header = "setting".ljust(width) + "".join(f"{c:>8}" for c in COLUMNS)
    lines = [f"{method}: {protocol_line(results)}" if method else protocol_line(results), header]
    lines.append("-" * len(header))
    for name, values in rows:
        lines.append(name.ljust(width) + "".join(f"{v:>8.2f}" for v in values.values()))
    return "\n".join(lines)


def report_paths(results_path: str) -> list[str]:
    """Every file `evaluate_and_report` writes: X.json, X_trials.json, X_cmc.png and
    X_ranked.png for `results_path` X.json (tools check them writable before the work)."""
    stem = os.path.splitext(results_path)[0]
    return [results_path, f"{stem}_trials.json", f"{stem}_cmc.png", f"{stem}_ranked.png"]
