"""Domain-specific nodes per layer (Wu et al., ICCV 2017, Sec. 3.2 Eq. 3, Sec. 4.2, Fig. 8).

A node is a channel of a ReLU output (Eq. 2: a node's output is after the activation σ). Eq. 3
calls a node domain1-specific when its output on every domain-2 input is zero; Fig. 8 relaxes
"zero" to "below T", T = 0.01 std (strict) or 0.05 std (loose), where std is "the standard
deviation of the output of the i-th node in layer l". That std carries no domain, so we take it
over every activation of the channel (all images of both domains, all positions); a channel
whose mean |activation| is at most T on both domains is counted apart, as inactive.

The statistics come from `tfreid.figures.channel_statistics`; here they become the proportions
per layer, the printed table, the CSV and the plot of tools/analyze_domain_nodes.py.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence

import numpy as np

from tfreid.figures.canvas import agg_figure, save_png
from tfreid.figures.channel_statistics import LayerStatistics
from tfreid.figures.tables import Column, text_table
from tfreid.files import atomic_write

THRESHOLDS = {"strict": 0.01, "loose": 0.05}
KINDS = ("rgb_specific", "ir_specific", "shared", "inactive")


def domain_specific_proportions(rgb_abs_mean, ir_abs_mean, std, threshold: float) -> dict:
    """Fractions of a layer's channels of each kind under T = threshold * std.

    A channel is RGB-specific when its mean |activation| on IR inputs is at most T and on RGB
    inputs above T, IR-specific the other way round, shared when above T on both, inactive
    when at most T on both (a dead channel, std 0, is inactive).

    Args:
        rgb_abs_mean: float [C] mean |activation| of each channel over RGB inputs.
        ir_abs_mean: float [C] the same over IR inputs.
        std: float [C] standard deviation of each channel's activations.
        threshold: the factor of std, e.g. 0.01 (strict) or 0.05 (loose).

    Returns:
        {"rgb_specific", "ir_specific", "shared", "inactive"} -> fraction in [0, 1]; they sum
        to 1.
    """
    arrays = [np.asarray(a, np.float64) for a in (rgb_abs_mean, ir_abs_mean, std)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 1 or arrays[0].size == 0:
        raise ValueError(
            "rgb_abs_mean, ir_abs_mean and std must be non-empty 1-D arrays of one length, got "
            f"shapes {[a.shape for a in arrays]}"
        )
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if np.any(arrays[2] < 0) or not np.all(np.isfinite(np.stack(arrays))):
        raise ValueError("std must be >= 0 and every value finite")
    limit = threshold * arrays[2]
    quiet_on_rgb, quiet_on_ir = arrays[0] <= limit, arrays[1] <= limit
    kinds = {
        "rgb_specific": quiet_on_ir & ~quiet_on_rgb,
        "ir_specific": quiet_on_rgb & ~quiet_on_ir,
        "shared": ~quiet_on_rgb & ~quiet_on_ir,
        "inactive": quiet_on_rgb & quiet_on_ir,
    }
    return {kind: float(np.mean(mask)) for kind, mask in kinds.items()}


def proportions_table(
    statistics: Sequence[LayerStatistics], thresholds: dict = THRESHOLDS
) -> list[dict]:
    """One row per layer: layer, depth (1 = nearest the input), channels, and for every
    threshold name t and kind k the column f"{t}_{k}"."""
    rows = []
    for depth, layer in enumerate(statistics, start=1):
        row = {"layer": layer.name, "depth": depth, "channels": len(layer.std)}
        for name, factor in thresholds.items():
            kinds = domain_specific_proportions(
                layer.rgb_abs_mean, layer.ir_abs_mean, layer.std, factor
            )
            row.update({f"{name}_{kind}": value for kind, value in kinds.items()})
        rows.append(row)
    return rows


def write_csv(rows: Sequence[dict], path: str) -> None:
    def write(f):
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    atomic_write(path, write)


def format_table(rows: Sequence[dict], thresholds: Sequence[str] = tuple(THRESHOLDS)) -> str:
    """The proportions in percent: a two-line header, then one line per layer."""
    labels = {"rgb_specific": "RGB", "ir_specific": "IR", "shared": "shared", "inactive": "inact."}
    columns = [Column("layer", 16, align="<"), Column("ch", 5, "d", before=" ")]
    for t in thresholds:
        title = f"{t} (T = {THRESHOLDS.get(t, '?')} std), %"
        columns += [
            Column(labels[k], 8, ".1f", before="" if i else " |", group=title)
            for i, k in enumerate(KINDS)
        ]
    cells = [
        [row["layer"], row["channels"], *(100 * row[f"{t}_{k}"] for t in thresholds for k in KINDS)]
        for row in rows
    ]
    return "\n".join(text_table(columns, cells))


def plot_proportions(rows: Sequence[dict], path: str, thresholds=tuple(THRESHOLDS)) -> None:
    """A PNG like Fig. 8: per threshold, the proportion of each kind of node against depth."""
    figure = agg_figure((5 * len(thresholds), 4))
    depth = [row["depth"] for row in rows]
    for index, name in enumerate(thresholds):
        axes = figure.add_subplot(1, len(thresholds), index + 1)
        specific = [row[f"{name}_rgb_specific"] + row[f"{name}_ir_specific"] for row in rows]
        axes.plot(depth, specific, "k-o", label="domain-specific (RGB + IR)")
        for kind, style in (("rgb_specific", "r--"), ("ir_specific", "b--"), ("shared", "g:")):
            axes.plot(depth, [row[f"{name}_{kind}"] for row in rows], style, label=kind)
        axes.set_xticks(depth, [row["layer"] for row in rows], rotation=90, fontsize=7)
        axes.set_ylim(-0.02, 1.02)
        axes.set_ylabel("proportion of nodes")
        axes.set_title(f"{name}: T = {THRESHOLDS.get(name, '?')} std")
        axes.legend(fontsize=7)
    figure.tight_layout()
    save_png(figure, path)
