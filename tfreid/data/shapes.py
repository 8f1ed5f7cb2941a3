"""Anti-aliasable shapes for the synthetic pedestrians: signed distances in body coordinates.

Coordinates are fractions of the person's height (u across the image, v down). A shape's
distance is negative inside and about the Euclidean distance outside, so coverage at a pixel is
0.5 minus the distance in pixels. Blocky shapes (bars, rounded squares) stand in for another
generator's drawing primitives.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np


class Shape(NamedTuple):
    """A body-coordinate shape: signed distance (negative inside), bounding box, clothing part."""

    distance: Callable[[np.ndarray, np.ndarray], np.ndarray]
    box: tuple[float, float, float, float]  # u0, u1, v0, v1
    part: int


def capsule(a, b, radius, part, blocky=False) -> Shape:
    """A thick segment from point a to point b (limbs, straps, hair); a bar when blocky."""
    du, dv = b[0] - a[0], b[1] - a[1]
    length = np.hypot(du, dv) + 1e-12

    def distance(u, v):
        pu, pv = u - a[0], v - a[1]
        along = (pu * du + pv * dv) / length
        if blocky:
            across = np.abs(pu * dv - pv * du) / length
            return np.maximum(
                np.abs(along - length / 2) - length / 2 - 0.5 * radius, across - radius
            )
        t = np.clip(along / length, 0.0, 1.0)
        return np.hypot(pu - t * du, pv - t * dv) - radius

    us, vs = sorted((a[0], b[0])), sorted((a[1], b[1]))
    return Shape(distance, (us[0] - radius, us[1] + radius, vs[0] - radius, vs[1] + radius), part)


def ellipse(centre, ru, rv, part, below=-1.0, blocky=False) -> Shape:
    """An ellipse (a rounded square when blocky), cut off below row `below` when given."""

    def distance(u, v):
        du, dv = np.abs(u - centre[0]) / ru, np.abs(v - centre[1]) / rv
        norm = np.maximum(du, dv) * 0.92 if blocky else np.hypot(du, dv)
        inside = (norm - 1.0) * min(ru, rv)
        return np.maximum(inside, v - below) if below > 0 else inside

    bottom = min(centre[1] + rv, below) if below > 0 else centre[1] + rv
    return Shape(distance, (centre[0] - ru, centre[0] + ru, centre[1] - rv, bottom), part)


def trapezoid(v0, v1, w0, w1, part, centre=0.0) -> Shape:
    """A band from row v0 (half-width w0) to row v1 (half-width w1): torso, coat, skirt, bag."""

    def distance(u, v):
        t = np.clip((v - v0) / (v1 - v0), 0.0, 1.0)
        return np.maximum(np.abs(u - centre) - (w0 + (w1 - w0) * t), np.maximum(v0 - v, v - v1))

    return Shape(distance, (centre - max(w0, w1), centre + max(w0, w1), v0, v1), part)


def lerp(a, b, t):
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)
