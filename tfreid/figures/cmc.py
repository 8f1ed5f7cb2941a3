"""CMC curves of an evaluation (matplotlib, the `viz` extra): X_cmc.png of tools/test.py."""

from __future__ import annotations

import numpy as np

from tfreid.evaluation.report import protocol_line, setting_name, settings
from tfreid.figures.canvas import agg_figure, save_png


def plot_cmc(results: dict, path: str, max_rank: int = 20) -> None:
    """Writes a PNG of the mean CMC curves, one line per setting (SYSU-MM01 mode / shot or
    single-modality setting, RegDB or LLCM direction), shaded ± the std over the trials.

    Args:
        results: what `tfreid.evaluation.protocols.evaluate_protocol` returned.
        path: the PNG file to write.
        max_rank: last rank drawn (at most the CMC's length).
    """
    figure = agg_figure((6, 4.5))
    axes = figure.subplots()
    for key, summary in settings(results):
        cmc = np.asarray(summary["mean"]["cmc"])[:max_rank]
        ranks = np.arange(1, len(cmc) + 1)
        (line,) = axes.plot(ranks, 100.0 * cmc, marker="o", markersize=3, label=setting_name(key))
        if summary["std"] is not None:
            spread = 100.0 * np.asarray(summary["std"]["cmc"])[:max_rank]
            low, high = 100.0 * cmc - spread, 100.0 * cmc + spread
            axes.fill_between(ranks, low, high, color=line.get_color(), alpha=0.15, linewidth=0)
    axes.set_xlabel("rank")
    axes.set_ylabel("matching rate (%)")
    axes.set_xlim(1, max_rank)
    axes.set_xticks([1, *range(5, max_rank + 1, 5)])
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title(protocol_line(results), fontsize=7)
    save_png(figure, path, bbox_inches="tight")
