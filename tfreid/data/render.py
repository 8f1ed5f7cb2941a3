"""Paints a pedestrian: body, clothes and accessories as anti-aliased shapes with patterns.

Shapes are signed-distance functions in body coordinates (fractions of the person's height,
head top 0, soles 1, u across the image), so a person keeps the same proportions in every view.
A view turns the body by its yaw: a point `lateral` to the person's side and `forward` of them
lands at u = lateral cos(yaw) + forward sin(yaw), widths shrink towards the body's depth, and
whatever is further from the camera is painted first (the far arm behind the torso, a backpack
behind the back unless seen from behind).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from tfreid.data.patterns import pattern_value
from tfreid.data.pedestrians import (
    BAG,
    HAIR,
    HAT,
    LOWER,
    NUM_PARTS,
    SHOES,
    SKIN,
    UPPER,
    Person,
    Pose,
)
from tfreid.data.shapes import Shape, capsule, ellipse, lerp, trapezoid

DEPTH = 0.6  # a body's depth over its width


class View(NamedTuple):
    """The cosine and sine of a pose's yaw, and whether shapes are drawn as boxes."""

    c: float
    s: float
    blocky: bool

    def u(self, lateral: float, forward: float = 0.0) -> float:
        return lateral * self.c + forward * self.s

    def depth(self, lateral: float, forward: float = 0.0) -> float:
        """Towards the camera (+) or away from it (-)."""
        return -lateral * self.s + forward * self.c

    def width(self, half: float) -> float:
        """Seen half-width of an elliptic cross-section `half` wide and DEPTH * `half` deep."""
        return half * float(np.hypot(self.c, DEPTH * self.s))


class Frame(NamedTuple):
    """Rows of the body landmarks, in body heights."""

    shoulder: float
    hip: float
    hem: float  # lower edge of the upper garment


def _frame(p: Person) -> Frame:
    shoulder, hip = 2.25 * p.body["head"] + 0.02, 1.0 - p.body["legs"]
    return Frame(shoulder, hip, hip + (0.22 if p.coat else 0.0))


def _leg(p: Person, pose: Pose, view: View, f: Frame, side: int) -> list[Shape]:
    b, k = p.body, side
    hip_side = k * b["hips"] * 0.5
    hip = (view.u(hip_side), f.hip)
    foot = (view.u(k * (b["hips"] * 0.5 + pose.stride[(k + 1) // 2]), k * pose.swing), 0.96)
    shapes = [capsule(hip, foot, b["leg"], SKIN, view.blocky)]
    if p.lower != "skirt":
        end = foot if p.lower == "trousers" else lerp(hip, foot, 0.45)
        shapes.append(capsule(hip, end, b["leg"] * 1.12, LOWER, view.blocky))
    shoe = view.width(b["leg"] * 1.3) + 0.02 * abs(view.s)
    shapes.append(
        ellipse((foot[0] + 0.012 * view.u(k, 1.0), 0.97), shoe, 0.03, SHOES, -1, view.blocky)
    )
    return shapes


def _arm(p: Person, pose: Pose, view: View, f: Frame, side: int) -> list[Shape]:
    """Arm, sleeve and hand of one side, and the carrier bag if it hangs from this hand."""
    b = p.body
    lateral, forward = side * np.sin(pose.arms[(side + 1) // 2]), -side * pose.swing * 1.6
    down = np.sqrt(max(0.2, 1.0 - lateral**2 - forward**2))
    reach = b["arm_length"]
    top = (view.u(side * (b["shoulders"] - b["arm"])), f.shoulder + b["arm"])
    wrist = (top[0] + view.u(lateral * reach, forward * reach), top[1] + down * reach)
    shapes = [capsule(top, wrist, b["arm"], SKIN, view.blocky)]
    if p.sleeves != "none":
        end = wrist if p.sleeves == "long" else lerp(top, wrist, 0.4)
        shapes.append(capsule(top, end, b["arm"] * 1.15, UPPER, view.blocky))
    hand = ellipse(lerp(top, wrist, 1.08), b["arm"] * 1.2, b["arm"] * 1.5, SKIN, -1, view.blocky)
    shapes.append(hand)
    if p.bag == "hand" and pose.bag_shown and side == p.bag_side:
        shapes.append(trapezoid(wrist[1] + 0.01, wrist[1] + 0.12, 0.04, 0.05, BAG, wrist[0]))
    return shapes


def _bag(p: Person, view: View, f: Frame) -> tuple[list[Shape], list[Shape]]:
    """A shoulder bag or backpack: (shapes behind the torso, shapes in front of it)."""
    b, side = p.body, p.bag_side
    if p.bag == "shoulder":
        lateral = side * (b["hips"] + 0.045)
        centre = view.u(lateral)
        strap = capsule(
            (view.u(-side * b["shoulders"] * 0.6), f.shoulder), (centre, f.hip - 0.06), 0.008, BAG
        )
        body = trapezoid(f.hip - 0.08, f.hip + 0.05, 0.05, 0.055, BAG, centre)
        return ([], [body, strap]) if view.depth(lateral) > -0.02 else ([body], [strap])
    if p.bag != "backpack":
        return [], []
    behind = -(DEPTH * b["shoulders"] + 0.03)
    width = view.width(b["shoulders"] * 0.75)
    pack = trapezoid(f.shoulder + 0.03, f.hip - 0.06, width, width * 1.1, BAG, view.u(0.0, behind))
    if view.c < 0.0:  # seen from behind
        return [], [pack]
    straps = [
        capsule(
            (view.u(k * b["shoulders"] * 0.55), f.shoulder),
            (view.u(k * b["hips"] * 0.7), f.hip - 0.1),
            0.01,
            BAG,
        )
        for k in (-1, 1)
    ]
    return [pack], straps if view.c > 0.2 else []


def _head(p: Person, view: View, f: Frame) -> list[Shape]:
    """Neck, face, hair and hat, in painting order; the hair turns away with the face."""
    r, blocky = p.body["head"], view.blocky
    head = (0.0, 1.1 * r)
    back = (view.u(0.0, -0.25 * r), head[1])  # the hair sits behind the face
    hairline = head[1] + (0.2 - 0.55 * view.c) * r
    shapes = [
        capsule((0.0, 2.0 * r), (0.0, f.shoulder + 0.01), r * 0.45, SKIN),
        ellipse(head, r * 0.88, r * 1.1, SKIN, -1, blocky),
        ellipse(back, r * 0.95, r * 1.17, HAIR, hairline, blocky),
    ]
    if p.hair == "bun":
        shapes.append(ellipse((view.u(0.0, -0.4 * r), 0.1 * r), r * 0.5, r * 0.45, HAIR))
    if p.hat == "cap":
        brim = [
            capsule(
                (view.u(-0.9 * r, 0.5 * r), head[1] - 0.25 * r),
                (view.u(0.9 * r, 0.5 * r), head[1] - 0.25 * r),
                r * 0.12,
                HAT,
            ),
            capsule(
                (0.0, head[1] - 0.25 * r), (view.u(0.0, 1.5 * r), head[1] - 0.3 * r), r * 0.12, HAT
            ),
        ]
        dome = ellipse(head, r * 1.0, r * 1.2, HAT, head[1] - 0.2 * r, blocky)
        shapes = brim + shapes + [dome] if view.c < -0.3 else shapes + [dome] + brim
    elif p.hat == "beanie":
        shapes.append(
            ellipse((0.0, head[1] - 0.1 * r), r * 1.02, r * 1.25, HAT, head[1] + 0.05 * r, blocky)
        )
    return shapes


def _shapes(p: Person, pose: Pose) -> list[Shape]:
    """The person's shapes in painting order, far to near."""
    view = View(float(np.cos(pose.yaw)), float(np.sin(pose.yaw)), p.blocky)
    f, b = _frame(p), p.body
    r = b["head"]
    hair = []
    if p.hair == "long":
        hair = [
            capsule(
                (view.u(0.0, -0.2 * r), 1.1 * r),
                (view.u(0.0, -0.3 * r), f.shoulder + 0.03),
                r,
                HAIR,
            )
        ]
    behind, front = _bag(p, view, f) if pose.bag_shown else ([], [])
    # The arm on the side turned away from the camera goes behind the torso.
    far_side = 1 if view.depth(1.0) < view.depth(-1.0) else -1
    far_arm, near_arm = _arm(p, pose, view, f, far_side), _arm(p, pose, view, f, -far_side)
    legs = _leg(p, pose, view, f, far_side) + _leg(p, pose, view, f, -far_side)
    flare, length = (1.7, 0.2) if p.lower == "skirt" else (1.05, 0.05)
    hips = view.width(b["hips"])
    legs.append(trapezoid(f.hip - 0.04, f.hip + length, hips, hips * flare, LOWER))
    torso = [trapezoid(f.shoulder, f.hip, view.width(b["shoulders"]), hips, UPPER)]
    if p.coat:
        torso.append(trapezoid(f.hip - 0.02, f.hem, hips * 1.05, hips * 1.35, UPPER))
    far = far_arm if abs(view.s) > 0.25 else []
    near = near_arm + ([] if far else far_arm)
    shapes = ([] if pose.back else hair) + behind + far + legs + torso + front
    return shapes + (hair if pose.back else []) + near + _head(p, view, f)


def _pattern(p: Person, pose: Pose, part: int, u, v) -> np.ndarray:
    """Share of the second tone per pixel, float32 [H, W], from u [1, W] and v [H, 1]."""
    f = _frame(p)
    if part == UPPER:
        top, bottom, half_width = f.shoulder, f.hem, p.body["shoulders"]
    elif part == LOWER:
        top, bottom, half_width = f.hip, 0.96, p.body["hips"]
    else:
        return None
    view = View(float(np.cos(pose.yaw)), float(np.sin(pose.yaw)), p.blocky)
    # The angle round the body that shows at u, in quarter turns (see patterns.py).
    seen = np.arcsin(np.clip(u / np.float32(view.width(half_width)), -1.0, 1.0))
    angle = (seen - pose.yaw + np.pi) % (2 * np.pi) - np.pi
    x, y = angle / (np.pi / 2), (v - np.float32(top)) / np.float32(bottom - top)
    amplitude, frequency, phase = pose.warp  # cloth folds bend the pattern a little
    x, y = (
        x + amplitude * np.sin(2 * np.pi * (frequency * y + phase)),
        y + amplitude * np.sin(2 * np.pi * (frequency * x + phase)),
    )
    value = pattern_value(p.patterns[part], x, y, (bottom - top) / half_width)
    if value is None:
        return None
    return np.clip(0.5 + np.broadcast_to(value, (v.size, u.size)), 0.0, 1.0).astype(np.float32)


def render_person(
    person: Person, pose: Pose, height: int, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """Paints one view of a person on a transparent canvas, anti-aliased.

    Returns:
        layer: float32 [H, W, 4], (r, g, b, ir) premultiplied by the coverage.
        alpha: float32 [H, W], coverage in [0, 1].
    """
    scale, across = pose.scale * height, pose.scale * height * pose.stretch
    centre, top = width * (0.5 + pose.dx), pose.top * height
    u = ((np.arange(width, dtype=np.float32) + 0.5 - centre) / across)[None, :]
    v = ((np.arange(height, dtype=np.float32) + 0.5 - top) / scale)[:, None]
    # Composite front to back: a shape's weight is its coverage times what still shows through
    # the shapes in front of it. Each shape is evaluated only inside its bounding box.
    weights = np.zeros((NUM_PARTS, height, width), np.float32)
    through = np.ones((height, width), np.float32)
    edge = min(scale, across)  # pixels per body height along the narrower axis
    for shape in reversed(_shapes(person, pose)):
        u0, u1, v0, v1 = shape.box
        rows = slice(max(0, int(top + v0 * scale) - 1), max(0, int(top + v1 * scale) + 2))
        cols = slice(max(0, int(centre + u0 * across) - 1), max(0, int(centre + u1 * across) + 2))
        cover = np.clip(0.5 - shape.distance(u[:, cols], v[rows]) * edge, 0.0, 1.0)
        weights[shape.part, rows, cols] += cover * through[rows, cols]
        through[rows, cols] *= 1.0 - cover
    # Each part shows its first tone, blended towards its second one by its pattern.
    first, second = person.tones[:, 0].astype(np.float32), person.tones[:, 1].astype(np.float32)
    layer = np.tensordot(weights, first, (0, 0))
    for part in (UPPER, LOWER):
        share = _pattern(person, pose, part, u, v)
        if share is not None:
            layer += (weights[part] * share)[..., None] * (second[part] - first[part])
    # A rounded body: surfaces turning away at the sides catch less light.
    shade = np.clip(1.0 - 0.3 * (u / (2.0 * person.body["shoulders"])) ** 2, 0.6, 1.0)
    return layer * shade[..., None], 1.0 - through
