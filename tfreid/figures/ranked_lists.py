"""Ranked lists of an evaluation (Pillow): a few queries and their top-k gallery images,
X_ranked.png of tools/test.py."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from PIL import Image, ImageOps

from tfreid.data.samples import Sample
from tfreid.files import atomic_write

MATCH_COLOUR = (0, 170, 0)
MISMATCH_COLOUR = (220, 0, 0)
QUERY_COLOUR = (0, 0, 0)


def thumbnail(path: str, size: tuple[int, int], colour, border: int) -> Image.Image:
    """The image at `path` resized to `size` (width, height) inside a `border`-pixel frame."""
    with Image.open(path) as image:
        image = image.convert("RGB").resize(size, Image.BILINEAR)
    return ImageOps.expand(image, border=border, fill=colour)


def spread_indices(count: int, shown: int = 4) -> list[int]:
    """`shown` indices spread evenly over 0..count-1: the queries a ranked list shows."""
    return [int(i) for i in np.unique(np.linspace(0, count - 1, min(shown, count)).round())]


def draw_ranked_list(
    queries: Sequence[Sample],
    gallery: Sequence[Sample],
    distmat: np.ndarray,
    path: str,
    query_indices: Sequence[int] | None = None,
    top_k: int = 10,
    size: tuple[int, int] = (64, 128),
) -> None:
    """Writes a PNG with one row per query: the query, then its top-k gallery images.

    A gallery image is framed green when it shows the query's identity, red otherwise. The
    order is the plain distance order (ties by gallery index); protocol removals such as
    SYSU-MM01's camera-2 rule are not applied here: pairs at +inf are not shown (the protocols
    pass their removed pairs so).

    Args:
        queries: the query samples (rows of distmat).
        gallery: the gallery samples (columns of distmat).
        distmat: float [num_q, num_g] distances, smaller is closer.
        path: the PNG file to write.
        query_indices: queries to show; default `spread_indices(len(queries))`.
        top_k: gallery images per row.
        size: (width, height) of each thumbnail.
    """
    distmat = np.asarray(distmat)
    if distmat.shape != (len(queries), len(gallery)):
        raise ValueError(
            f"distmat must be [{len(queries)}, {len(gallery)}] for the given samples, "
            f"got {distmat.shape}"
        )
    if query_indices is None:
        query_indices = spread_indices(len(queries))
    query_indices = [int(i) for i in query_indices]
    if not query_indices or not all(0 <= i < len(queries) for i in query_indices):
        raise ValueError(f"query_indices must be in 0..{len(queries) - 1}, got {query_indices}")
    border, gap = 3, 8  # frame width; white space after the query and between rows
    cell_w, cell_h = size[0] + 2 * border, size[1] + 2 * border
    rows = len(query_indices)
    top_k = min(top_k, len(gallery))
    canvas = Image.new(
        "RGB", (cell_w * (top_k + 1) + gap, cell_h * rows + gap * (rows - 1)), (255, 255, 255)
    )
    for row, q in enumerate(query_indices):
        y = row * (cell_h + gap)
        canvas.paste(thumbnail(queries[q].path, size, QUERY_COLOUR, border), (0, y))
        ranked = np.argsort(distmat[q], kind="stable")
        shown = ranked[np.isfinite(distmat[q, ranked])][:top_k]  # +inf: removed by the protocol
        for rank, g in enumerate(shown):
            colour = MATCH_COLOUR if gallery[g].pid == queries[q].pid else MISMATCH_COLOUR
            canvas.paste(
                thumbnail(gallery[g].path, size, colour, border), (gap + (rank + 1) * cell_w, y)
            )
    atomic_write(path, lambda f: canvas.save(f, format="PNG"), binary=True)
