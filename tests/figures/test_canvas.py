"""The matplotlib setup every plot shares: a PNG on the headless canvas, a clear error without
matplotlib (tfreid/figures/canvas.py)."""

import sys

import numpy as np
import pytest
from PIL import Image

from tfreid.figures import domain_nodes, gates
from tfreid.figures.canvas import agg_figure, save_png

GATE_ROWS = [
    {"layer": 1, "rgb_mean": 0.7, "ir_mean": np.nan, "rgb_share": 1.0, "ir_share": 0.0},
    {"layer": 2, "rgb_mean": 0.6, "ir_mean": 0.8, "rgb_share": 0.25, "ir_share": 0.75},
]
NODE_ROWS = [
    {
        "layer": "a",
        "depth": 1,
        **{f"{t}_{k}": 0.25 for t in ("strict", "loose") for k in domain_nodes.KINDS},
    }
]
PLOTS = {
    "gates": lambda path: gates.plot(GATE_ROWS, path),
    "domain nodes": lambda path: domain_nodes.plot_proportions(NODE_ROWS, path),
}


def test_a_figure_is_written_as_a_png_of_its_size(tmp_path):
    figure = agg_figure((3, 2))
    figure.subplots().plot([0, 1], [1, 0])
    save_png(figure, str(tmp_path / "f.png"))
    with Image.open(tmp_path / "f.png") as image:
        assert image.format == "PNG" and image.size == (300, 200)


@pytest.mark.parametrize("name", sorted(PLOTS))
def test_every_plot_draws_and_names_the_viz_extra_without_matplotlib(name, tmp_path, monkeypatch):
    PLOTS[name](str(tmp_path / "plot.png"))
    assert (tmp_path / "plot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match=r"^plots need matplotlib: pip install 'tfreid\[viz\]'"):
        PLOTS[name](str(tmp_path / "none.png"))
    assert not (tmp_path / "none.png").exists()
