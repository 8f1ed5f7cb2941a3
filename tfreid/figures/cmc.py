"""CMC curves of an evaluation (matplotlib, the `viz` extra): X_cmc.png of tools/test.py."""

from __future__ import annotations

import numpy as np

from tfreid.evaluation.report import protocol_line, setting_name, settings
from tfreid.files import atomic_write


def _agg_figure(figsize: tuple[float, float]):
    """A matplotlib figure on the file-only Agg canvas; pyplot's global state is left alone."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "CMC plots need matplotlib: pip install 'tfreid[viz]' (or pip install matplotlib)"
        ) from None
    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    return figure


def plot_cmc(results: dict, path: str, max_rank: int = 20) -> None:
    """Writes a PNG of the mean CMC curves, one line per mode / shot or RegDB direction.

    Args:
        results: what `tfreid.evaluation.protocols.evaluate_protocol` returned.
        path: the PNG file to write.
        max_rank: last rank drawn (at most the CMC's length).
    """
    figure = _agg_figure((6, 4.5))
    axes = figure.subplots()
    for key, summary in settings(results):
        cmc = np.asarray(summary["mean"]["cmc"])[:max_rank]
        ranks = np.arange(1, len(cmc) + 1)
        axes.plot(ranks, 100.0 * cmc, marker="o", markersize=3, label=setting_name(key))
    axes.set_xlabel("rank")
    axes.set_ylabel("matching rate (%)")
    axes.set_xlim(1, max_rank)
    axes.set_xticks([1, *range(5, max_rank + 1, 5)])
    axes.set_ylim(0, 100)
    axes.grid(alpha=0.3)
    axes.legend(loc="lower right")
    axes.set_title(protocol_line(results), fontsize=7)
    atomic_write(path, lambda f: figure.savefig(f, format="png", bbox_inches="tight"), True)
