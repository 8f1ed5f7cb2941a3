"""Paints a pedestrian: body, clothes and accessories as anti-aliased shapes with patterns.

Shapes are signed-distance functions in body coordinates (fractions of the person's height,
head top 0, soles 1, u across the body), so a person keeps the same proportions in every view
and the patterns move and mirror with the garments.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from tfreid.data.pedestrians import (
    BAG,
    BAND,
    CHECKS,
    DIAGONAL,
    H_STRIPES,
    HAIR,
    HAT,
    LOWER,
    NUM_PARTS,
    OPEN,
    PRINT,
    SHOES,
    SKIN,
    UPPER,
    V_STRIPES,
    YOKE,
    Person,
    Pose,
)


class Shape(NamedTuple):
    """A body-coordinate shape: signed distance (negative inside), bounding box, clothing part."""

    distance: Callable[[np.ndarray, np.ndarray], np.ndarray]
    box: tuple[float, float, float, float]  # u0, u1, v0, v1
    part: int


def _capsule(a, b, radius, part) -> Shape:
    """A thick segment from point a to point b (limbs, straps, hair)."""
    du, dv = b[0] - a[0], b[1] - a[1]

    def distance(u, v):
        pu, pv = u - a[0], v - a[1]
        t = np.clip((pu * du + pv * dv) / (du * du + dv * dv + 1e-12), 0.0, 1.0)
        return np.hypot(pu - t * du, pv - t * dv) - radius

    us, vs = sorted((a[0], b[0])), sorted((a[1], b[1]))
    return Shape(distance, (us[0] - radius, us[1] + radius, vs[0] - radius, vs[1] + radius), part)


def _ellipse(centre, ru, rv, part, below=-1.0) -> Shape:
    """An ellipse, cut off below row `below` when given (a hair line, a hat's rim)."""

    def distance(u, v):
        inside = (np.hypot((u - centre[0]) / ru, (v - centre[1]) / rv) - 1.0) * min(ru, rv)
        return np.maximum(inside, v - below) if below > 0 else inside

    bottom = min(centre[1] + rv, below) if below > 0 else centre[1] + rv
    return Shape(distance, (centre[0] - ru, centre[0] + ru, centre[1] - rv, bottom), part)


def _trapezoid(v0, v1, w0, w1, part, centre=0.0) -> Shape:
    """A band from row v0 (half-width w0) to row v1 (half-width w1): torso, coat, skirt, bag."""

    def distance(u, v):
        t = np.clip((v - v0) / (v1 - v0), 0.0, 1.0)
        return np.maximum(np.abs(u - centre) - (w0 + (w1 - w0) * t), np.maximum(v0 - v, v - v1))

    return Shape(distance, (centre - max(w0, w1), centre + max(w0, w1), v0, v1), part)


def _lerp(a, b, t):
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


class Frame(NamedTuple):
    """Rows of the body landmarks, in body heights."""

    shoulder: float
    hip: float
    hem: float  # lower edge of the upper garment


def _frame(p: Person) -> Frame:
    shoulder, hip = 2.25 * p.body["head"] + 0.02, 1.0 - p.body["legs"]
    return Frame(shoulder, hip, hip + (0.22 if p.coat else 0.0))


def _legs(p: Person, pose: Pose, f: Frame) -> list[Shape]:
    b, shapes = p.body, []
    for side, stride in zip((-1, 1), pose.stride, strict=True):
        hip = (side * b["hips"] * 0.5, f.hip)
        foot = (side * (b["hips"] * 0.5 + stride), 0.96)
        shapes.append(_capsule(hip, foot, b["leg"], SKIN))
        if p.lower != "skirt":
            end = foot if p.lower == "trousers" else _lerp(hip, foot, 0.45)
            shapes.append(_capsule(hip, end, b["leg"] * 1.12, LOWER))
        shapes.append(_ellipse((foot[0] + side * 0.012, 0.97), b["leg"] * 1.3, 0.03, SHOES))
    flare, length = (1.7, 0.2) if p.lower == "skirt" else (1.05, 0.05)
    shapes.append(_trapezoid(f.hip - 0.04, f.hip + length, b["hips"], b["hips"] * flare, LOWER))
    return shapes


def _wrists(p: Person, pose: Pose, f: Frame) -> list[tuple[tuple, tuple]]:
    """(shoulder joint, wrist) of the left (-1) and right (+1) arm."""
    b, joints = p.body, []
    for side, angle in zip((-1, 1), pose.arms, strict=True):
        top = (side * (b["shoulders"] - b["arm"]), f.shoulder + b["arm"])
        reach = (side * np.sin(angle) * b["arm_length"], np.cos(angle) * b["arm_length"])
        joints.append((top, (top[0] + reach[0], top[1] + reach[1])))
    return joints


def _arms(p: Person, pose: Pose, f: Frame) -> list[Shape]:
    shapes, arm = [], p.body["arm"]
    for top, wrist in _wrists(p, pose, f):
        shapes.append(_capsule(top, wrist, arm, SKIN))
        if p.sleeves != "none":
            end = wrist if p.sleeves == "long" else _lerp(top, wrist, 0.4)
            shapes.append(_capsule(top, end, arm * 1.15, UPPER))
        shapes.append(_ellipse(_lerp(top, wrist, 1.08), arm * 1.2, arm * 1.5, SKIN))
    return shapes


def _bag(p: Person, pose: Pose, f: Frame) -> list[Shape]:
    b, side = p.body, p.bag_side
    if p.bag == "shoulder":
        centre = side * (b["hips"] + 0.045)
        strap = _capsule(
            (-side * b["shoulders"] * 0.6, f.shoulder), (centre, f.hip - 0.06), 0.008, BAG
        )
        return [strap, _trapezoid(f.hip - 0.08, f.hip + 0.05, 0.05, 0.055, BAG, centre)]
    if p.bag == "backpack" and pose.back:
        return [_trapezoid(f.shoulder + 0.03, f.hip - 0.06, b["shoulders"] * 0.75, b["hips"], BAG)]
    if p.bag == "backpack":  # seen from the front: only the straps
        return [
            _capsule(
                (s * b["shoulders"] * 0.55, f.shoulder),
                (s * b["hips"] * 0.7, f.hip - 0.1),
                0.01,
                BAG,
            )
            for s in (-1, 1)
        ]
    if p.bag == "hand":  # a carrier bag hanging from one hand
        wrist = _wrists(p, pose, f)[(side + 1) // 2][1]
        return [_trapezoid(wrist[1] + 0.01, wrist[1] + 0.12, 0.04, 0.05, BAG, wrist[0])]
    return []


def _head(p: Person, pose: Pose, f: Frame) -> list[Shape]:
    """Neck, face, hair and hat, in painting order."""
    r = p.body["head"]
    head = (0.0, 1.1 * r)
    hairline = head[1] + (0.75 if pose.back else -0.35) * r
    shapes = [
        _capsule((0.0, 2.0 * r), (0.0, f.shoulder + 0.01), r * 0.45, SKIN),
        _ellipse(head, r * 0.88, r * 1.1, SKIN),
        _ellipse(head, r * 0.95, r * 1.17, HAIR, below=hairline),
    ]
    if p.hair == "bun":
        shapes.append(_ellipse((0.0, 0.1 * r), r * 0.5, r * 0.45, HAIR))
    if p.hat == "cap":
        shapes.append(_ellipse(head, r * 1.0, r * 1.2, HAT, below=head[1] - 0.2 * r))
        shapes.append(
            _capsule((-r * 0.9, head[1] - 0.25 * r), (r * 1.5, head[1] - 0.3 * r), r * 0.12, HAT)
        )
    elif p.hat == "beanie":
        shapes.append(
            _ellipse((0.0, head[1] - 0.1 * r), r * 1.02, r * 1.25, HAT, below=head[1] + 0.05 * r)
        )
    return shapes


def _shapes(p: Person, pose: Pose) -> list[Shape]:
    """The person's shapes in painting order, back to front."""
    f, b = _frame(p), p.body
    r = b["head"]
    hair = [_capsule((0.0, 1.1 * r), (0.0, f.shoulder + 0.03), r, HAIR)] if p.hair == "long" else []
    torso = _trapezoid(f.shoulder, f.hip, b["shoulders"], b["hips"], UPPER)
    shapes = ([] if pose.back else hair) + _legs(p, pose, f) + [torso]
    if p.coat:
        shapes.append(_trapezoid(f.hip - 0.02, f.hem, b["hips"] * 1.05, b["hips"] * 1.35, UPPER))
    shapes += _bag(p, pose, f) + (hair if pose.back else [])
    return shapes + _arms(p, pose, f) + _head(p, pose, f)


def _stripes(t, cycles, duty, phase):
    """Positive on a `duty` share of every cycle of `t`."""
    return np.cos(2 * np.pi * (cycles * t + phase)) - np.cos(np.pi * duty)


def _pattern_value(pattern, x, y, aspect: float):
    """Where a garment shows its second tone: positive inside, about unit slope per garment.

    x runs across the garment (+-1 at its sides), y down it (0 at the top, 1 at the hem);
    `aspect` is the garment's height over its half-width.
    """
    kind, cycles, size, extra = pattern
    if kind == H_STRIPES:
        return 3.0 * _stripes(y, cycles, size, extra)
    if kind == V_STRIPES:
        return 3.0 * _stripes(0.35 * x, cycles, size, extra)
    if kind == DIAGONAL:
        return 3.0 * _stripes(y + (0.4 if extra > 0.5 else -0.4) * x, cycles, size, 0.0)
    if kind == CHECKS:
        return 6.0 * _stripes(y, cycles, 0.5, extra) * _stripes(0.35 * x, cycles, 0.5, 0.0)
    if kind == YOKE:
        return 20.0 * (size - y)
    if kind == BAND:
        return 20.0 * (0.06 + 0.08 * extra - np.abs(y - size))
    if kind == OPEN:
        return 10.0 * (0.6 * size - np.abs(x))
    if kind == PRINT:  # a disc, diamond or square on the chest
        dx, dy = np.abs(x), np.abs(y - 0.3) * aspect
        norm = {0: np.hypot(dx, dy), 1: dx + dy, 2: np.maximum(dx, dy)}[int(extra)]
        return 10.0 * (0.9 * size - norm)
    return None


def _pattern(p: Person, part: int, u, v) -> np.ndarray:
    """Share of the second tone per pixel, float32 [H, W], from u [1, W] and v [H, 1]."""
    f = _frame(p)
    if part == UPPER:
        top, bottom, half_width = f.shoulder, f.hem, p.body["shoulders"]
    elif part == LOWER:
        top, bottom, half_width = f.hip, 0.96, p.body["hips"]
    else:
        return np.zeros((v.size, u.size), np.float32)
    # Patterns live in garment coordinates, so they move and mirror with the person.
    x, y = u / np.float32(half_width), (v - np.float32(top)) / np.float32(bottom - top)
    value = _pattern_value(p.patterns[part], x, y, (bottom - top) / half_width)
    if value is None:
        return np.zeros((v.size, u.size), np.float32)
    share = np.clip(0.5 + np.broadcast_to(value, (v.size, u.size)), 0.0, 1.0)
    return share.astype(np.float32)


def render_person(
    person: Person, pose: Pose, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Paints one view of a person on a transparent canvas, anti-aliased.

    Returns:
        layer: float32 [H, W, 4], (r, g, b, ir) premultiplied by the coverage.
        alpha: float32 [H, W], coverage in [0, 1].
    """
    scale, sign = pose.scale * height, -1.0 if pose.mirror else 1.0
    centre, top = width * (0.5 + pose.dx), pose.top * height
    u = (sign * (np.arange(width, dtype=np.float32) + 0.5 - centre) / scale)[None, :]
    v = ((np.arange(height, dtype=np.float32) + 0.5 - top) / scale)[:, None]
    # Composite front to back: a shape's weight is its coverage times what still shows through
    # the shapes in front of it. Each shape is evaluated only inside its bounding box.
    weights = np.zeros((NUM_PARTS, height, width), np.float32)
    through = np.ones((height, width), np.float32)
    for shape in reversed(_shapes(person, pose)):
        u0, u1, v0, v1 = shape.box
        x0, x1 = sorted((centre + sign * u0 * scale, centre + sign * u1 * scale))
        rows = slice(max(0, int(top + v0 * scale) - 1), max(0, int(top + v1 * scale) + 2))
        cols = slice(max(0, int(x0) - 1), max(0, int(x1) + 2))
        cover = np.clip(0.5 - shape.distance(u[:, cols], v[rows]) * scale, 0.0, 1.0)
        weights[shape.part, rows, cols] += cover * through[rows, cols]
        through[rows, cols] *= 1.0 - cover
    # Each part shows its first tone, blended towards its second one by its pattern.
    patterned = weights * np.stack([_pattern(person, k, u, v) for k in range(NUM_PARTS)])
    first, second = person.tones[:, 0].astype(np.float32), person.tones[:, 1].astype(np.float32)
    layer = np.tensordot(weights, first, (0, 0)) + np.tensordot(patterned, second - first, (0, 0))
    # A rounded body: surfaces turning away at the sides catch less light.
    shade = np.clip(1.0 - 0.3 * (u / (2.0 * person.body["shoulders"])) ** 2, 0.6, 1.0)
    return layer * shade[..., None], 1.0 - through
