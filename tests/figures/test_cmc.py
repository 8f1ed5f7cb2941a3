"""CMC curves of an evaluation (tfreid/figures/cmc.py)."""

import sys

import numpy as np
import pytest
from PIL import Image

from tfreid.figures.cmc import plot_cmc


def summary(cmc):
    mean = {"cmc": np.asarray(cmc), "mAP": 0.4, "mINP": 0.2}
    return {"mean": mean, "std": None, "per_trial": [{"trial": 0, **mean}]}


def sysu_results():
    ranks = np.arange(1, 21)
    return {
        "dataset": "sysu",
        "protocol": "seeded",
        "trials": [0],
        "distance": "cosine",
        "flip": False,
        "rerank": False,
        "results": {
            "all": {"single": summary(1 - 0.6 / ranks), "multi": summary(1 - 0.4 / ranks)},
            "indoor": {"single": summary(1 - 0.5 / ranks)},
        },
    }


def test_cmc_png(tmp_path):
    path = tmp_path / "plots" / "cmc.png"
    plot_cmc(sysu_results(), str(path))
    assert path.stat().st_size > 5000
    with Image.open(path) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.load()
    assert 400 <= width <= 1200 and 300 <= height <= 900


def test_cmc_png_shades_the_spread(tmp_path):
    plain, spread = sysu_results(), sysu_results()
    for shots in spread["results"]["all"].values():
        shots["std"] = {"cmc": np.full(20, 0.1), "mAP": 0.01, "mINP": 0.01}
    plot_cmc(plain, str(tmp_path / "plain.png"))
    plot_cmc(spread, str(tmp_path / "spread.png"))
    with Image.open(tmp_path / "plain.png") as a, Image.open(tmp_path / "spread.png") as b:
        plain_pixels, spread_pixels = np.asarray(a.convert("L")), np.asarray(b.convert("L"))
    assert plain_pixels.shape == spread_pixels.shape
    assert light_pixels(spread_pixels) > light_pixels(plain_pixels) + 1000


def light_pixels(gray):
    """Pixels between the white ground and the curves' colours: where a band is shaded."""
    return int(((gray > 150) & (gray < 250)).sum())


def test_cmc_needs_matplotlib(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib.backends.backend_agg", None)
    with pytest.raises(ImportError, match="tfreid\\[viz\\]"):
        plot_cmc(sysu_results(), str(tmp_path / "cmc.png"))
