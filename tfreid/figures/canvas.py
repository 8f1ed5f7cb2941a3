"""The one place that imports matplotlib: figures on the headless Agg canvas, saved as PNGs.

matplotlib is the `viz` extra; without it a plot raises an ImportError that names the extra.
pyplot is never imported, so drawing leaves its global state (and any GUI backend) alone.
"""

from __future__ import annotations

from tfreid.files import atomic_write


def agg_figure(figsize: tuple[float, float]):
    """A matplotlib `Figure` of `figsize` inches at 100 dpi on the file-only Agg canvas.

    Raises:
        ImportError: matplotlib is not installed.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ImportError(
            "plots need matplotlib: pip install 'tfreid[viz]' (or pip install matplotlib)"
        ) from None
    figure = Figure(figsize=figsize, dpi=100)
    FigureCanvasAgg(figure)
    return figure


def save_png(figure, path: str, **savefig) -> None:
    """Writes `figure` to `path` as a PNG, atomically (`savefig` goes to `Figure.savefig`)."""
    atomic_write(path, lambda f: figure.savefig(f, format="png", **savefig), binary=True)
