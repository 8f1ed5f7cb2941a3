"""Ranked lists of an evaluation (tfreid/figures/ranked_lists.py)."""

import numpy as np
import pytest
from PIL import Image

from tfreid.data.samples import IR, RGB, Sample
from tfreid.figures.ranked_lists import MATCH_COLOUR, MISMATCH_COLOUR, draw_ranked_list


def write_samples(tmp_path, pids, modality, prefix):
    rng = np.random.default_rng(len(prefix))
    samples = []
    for i, pid in enumerate(pids):
        path = str(tmp_path / f"{prefix}_{i}.png")
        Image.fromarray(rng.integers(0, 256, (12, 6, 3), dtype=np.uint8)).save(path)
        samples.append(Sample(path, pid, 3 if modality == IR else 1, modality))
    return samples


def test_ranked_list_png(tmp_path):
    queries = write_samples(tmp_path, [1, 2, 3], IR, "q")
    gallery = write_samples(tmp_path, [1, 2, 3, 1, 2, 3, 1, 2, 3, 4, 4, 4], RGB, "g")
    distmat = np.random.default_rng(0).uniform(size=(3, 12))
    path = tmp_path / "ranked.png"
    size, border, gap, top_k = (20, 40), 3, 8, 10
    draw_ranked_list(queries, gallery, distmat, str(path), query_indices=[0, 2], size=size)
    assert path.stat().st_size > 0
    with Image.open(path) as image:
        assert image.format == "PNG"
        canvas = np.asarray(image.convert("RGB"))
    cell_w, cell_h = size[0] + 2 * border, size[1] + 2 * border
    assert canvas.shape == (2 * cell_h + gap, (top_k + 1) * cell_w + gap, 3)
    for row, q in enumerate([0, 2]):
        order = np.argsort(distmat[q])[:top_k]
        for rank, g in enumerate(order):
            x = gap + (rank + 1) * cell_w
            colour = MATCH_COLOUR if gallery[g].pid == queries[q].pid else MISMATCH_COLOUR
            y = row * (cell_h + gap)
            assert tuple(canvas[y, x]) == colour  # top-left corner of the frame
            assert tuple(canvas[y + cell_h - 1, x + cell_w - 1]) == colour


def test_ranked_list_errors(tmp_path):
    queries = write_samples(tmp_path, [1], IR, "q")
    gallery = write_samples(tmp_path, [1, 2], RGB, "g")
    with pytest.raises(ValueError, match="\\[1, 2\\]"):
        draw_ranked_list(queries, gallery, np.zeros((2, 2)), str(tmp_path / "x.png"))
    with pytest.raises(ValueError, match="query_indices"):
        draw_ranked_list(queries, gallery, np.zeros((1, 2)), str(tmp_path / "x.png"), [3])


def test_ranked_list_leaves_out_the_pairs_at_infinity(tmp_path):
    queries = write_samples(tmp_path, [1], IR, "q")
    gallery = write_samples(tmp_path, [1, 2, 3, 1, 2], RGB, "g")
    distmat = np.array([[0.1, np.inf, 0.3, np.inf, 0.2]])  # removed: gallery 1 and 3
    path = tmp_path / "ranked.png"
    size, border, gap = (20, 40), 3, 8
    draw_ranked_list(queries, gallery, distmat, str(path), size=size)
    with Image.open(path) as image:
        canvas = np.asarray(image.convert("RGB"))
    cell_w = size[0] + 2 * border
    frames = [tuple(canvas[0, gap + (rank + 1) * cell_w]) for rank in range(5)]
    # gallery 0 (id 1, a match), 4 (id 2), 2 (id 3); then nothing: white
    assert frames == [MATCH_COLOUR, MISMATCH_COLOUR, MISMATCH_COLOUR] + [(255, 255, 255)] * 2
