"""Synthetic SYSU-MM01 and RegDB data sets, written in the real on-disk layouts.

Every identity is a procedurally drawn pedestrian: a body shape plus clothing parts, each part
with a visible colour and an infrared reflectance drawn independently of that colour. So colour
does not transfer across modalities (the modality gap), while body shape and garment patterns
(stripes, checks, colour blocks, bags, sleeves) do, which makes identity learnable from both.
RGB cameras see the colours under their own lighting and scenery; IR cameras see the
reflectances under their own exposure, illuminator fall-off, blur and noise. All randomness comes
from NumPy generators keyed by (seed, purpose, index), so one seed gives byte-identical files and
identity `pid` looks the same whatever the number of identities.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import scipy.io
from PIL import Image
from scipy import ndimage

SYSU_RGB_CAMERAS = (1, 2, 4, 5)
SYSU_IR_CAMERAS = (3, 6)
SYSU_SCENES = {
    1: "indoor",
    2: "indoor",
    3: "nir_indoor",
    4: "outdoor",
    5: "outdoor",
    6: "nir_outdoor",
}
SYSU_MIN_IDS = 5  # >= 2 train, >= 1 val, >= 2 test ids
REGDB_MIN_IDS = 4  # >= 2 train and >= 2 test ids per trial
REGDB_IMAGES_PER_ID = 10
MAX_IDS = 9999  # 4-digit SYSU folders, 5-digit RegDB image counters
TRIALS = 10

SKIN, HAIR, UPPER, LOWER, SHOES, BAG = range(6)
PLAIN, H_STRIPES, V_STRIPES, CHECKS, COLOUR_BLOCK = range(5)


@dataclass(frozen=True)
class Person:
    """One identity. Lengths are fractions of the person's height (head top 0, soles 1).

    Attributes:
        body: proportions: head radius, shoulder/hip half-widths, leg length, limb radii.
        tones: float [6, 2, 4]: per part, two pattern tones as (r, g, b, ir) in [0, 1].
        patterns: float [6, 3]: per part (kind, cycles per body height, phase or split row).
        long_sleeves, long_hair, female: clothing and hair style.
        lower: "trousers", "shorts" or "skirt".
        bag: "none", "shoulder" or "backpack"; bag_side: -1 or 1.
    """

    body: dict[str, float]
    tones: np.ndarray
    patterns: np.ndarray
    long_sleeves: bool
    long_hair: bool
    female: bool
    lower: str
    bag: str
    bag_side: int


class Pose(NamedTuple):
    """One view: scale and top are fractions of image height, dx of image width."""

    scale: float
    top: float
    dx: float
    mirror: bool
    back: bool
    arms: tuple[float, float]  # outward arm angles (radians)
    stride: tuple[float, float]  # outward foot offsets (body heights)


class Camera(NamedTuple):
    """A fixed camera: its scenery (a panorama 3 images wide, cropped per image) and optics."""

    infrared: bool
    gain: np.ndarray  # float [3] colour temperature x brightness, or [1] IR exposure
    background: np.ndarray  # float32 [H, 3W, 3 or 1] albedo or IR reflectance
    noise: float
    blur: float


# scene: (infrared, colour temperature range, brightness range, scenery value range, noise, blur)
_SCENES = {
    "indoor": (False, (0.2, 1.0), (0.75, 1.0), (0.35, 0.8), 0.012, 0.45),
    "outdoor": (False, (-1.0, 0.1), (0.95, 1.2), (0.3, 0.9), 0.012, 0.45),
    "nir_indoor": (True, (0.0, 0.0), (0.95, 1.15), (0.25, 0.55), 0.025, 0.9),
    "nir_outdoor": (True, (0.0, 0.0), (0.8, 1.0), (0.05, 0.3), 0.035, 1.1),
    "thermal": (True, (0.0, 0.0), (0.9, 1.1), (0.05, 0.2), 0.02, 1.4),
}


def _hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * h) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def _tone(rng: np.random.Generator, hue, sat, val, ir) -> np.ndarray:
    """(r, g, b, ir): the infrared reflectance is drawn independently of the colour."""
    colour = _hsv_to_rgb(rng.uniform(*hue), rng.uniform(*sat), rng.uniform(*val))
    return np.append(colour, rng.uniform(*ir))


def _garment(rng: np.random.Generator, kind_probs, split_rows) -> tuple[np.ndarray, np.ndarray]:
    first = _tone(rng, (0, 1), (0.1, 0.9), (0.12, 0.95), (0.08, 0.92))
    second = _tone(rng, (0, 1), (0.1, 0.9), (0.12, 0.95), (0, 0))
    # The pattern must show in IR too: its second reflectance differs clearly from the first.
    step = rng.uniform(0.25, 0.45) * rng.choice([-1, 1])
    second[3] = first[3] + step if 0.05 <= first[3] + step <= 0.95 else first[3] - step
    kind = rng.choice(5, p=kind_probs)
    third = rng.uniform(*split_rows) if kind == COLOUR_BLOCK else rng.uniform(0, 1)
    return np.stack([first, second]), np.array([kind, rng.uniform(8, 16), third])


def draw_person(rng: np.random.Generator) -> Person:
    """Draws one identity's body shape, clothing, colours and infrared reflectances."""
    build, female = rng.uniform(0.85, 1.2), bool(rng.random() < 0.5)
    body = {
        "head": rng.uniform(0.055, 0.07),
        "shoulders": rng.uniform(0.11, 0.15) * build,
        "hips": rng.uniform(0.085, 0.115) * build,
        "legs": rng.uniform(0.45, 0.52),
        "arm": rng.uniform(0.027, 0.035) * build,
        "leg": rng.uniform(0.04, 0.05) * build,
        "arm_length": rng.uniform(0.33, 0.39),
    }
    tones, patterns = np.zeros((6, 2, 4)), np.zeros((6, 3))
    tones[SKIN] = _tone(rng, (0.03, 0.09), (0.25, 0.55), (0.35, 0.92), (0.65, 0.85))
    tones[HAIR] = _tone(rng, (0.03, 0.12), (0.2, 0.7), (0.08, 0.6), (0.15, 0.6))
    tones[UPPER], patterns[UPPER] = _garment(rng, [0.3, 0.25, 0.15, 0.15, 0.15], (0.28, 0.4))
    tones[LOWER], patterns[LOWER] = _garment(rng, [0.6, 0.1, 0.1, 0.1, 0.1], (0.68, 0.85))
    tones[SHOES] = _tone(rng, (0, 1), (0, 0.4), (0.05, 0.6), (0.1, 0.5))
    tones[BAG] = _tone(rng, (0, 1), (0.1, 0.9), (0.1, 0.9), (0.1, 0.9))
    lower_probs = [0.5, 0.2, 0.3] if female else [0.75, 0.25, 0.0]
    return Person(
        body=body,
        tones=tones,
        patterns=patterns,
        long_sleeves=bool(rng.random() < 0.5),
        long_hair=bool(rng.random() < (0.7 if female else 0.1)),
        female=female,
        lower=str(rng.choice(["trousers", "shorts", "skirt"], p=lower_probs)),
        bag=str(rng.choice(["none", "shoulder", "backpack"], p=[0.5, 0.25, 0.25])),
        bag_side=int(rng.choice([-1, 1])),
    )


def draw_pose(rng: np.random.Generator) -> Pose:
    """Draws the viewpoint, limb positions and detection crop of one image."""
    scale = rng.uniform(0.8, 0.93)
    return Pose(
        scale=scale,
        top=rng.uniform(0.01, 0.99 - scale),
        dx=rng.uniform(-0.08, 0.08),
        mirror=bool(rng.random() < 0.5),
        back=bool(rng.random() < 0.5),
        arms=tuple(rng.uniform(0.04, 0.25, 2)),
        stride=tuple(rng.uniform(-0.03, 0.06, 2)),
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
    """An ellipse, cut off above row `below` when given (a hair line)."""

    def distance(u, v):
        inside = (np.hypot((u - centre[0]) / ru, (v - centre[1]) / rv) - 1.0) * min(ru, rv)
        return np.maximum(inside, v - below) if below > 0 else inside

    bottom = min(centre[1] + rv, below) if below > 0 else centre[1] + rv
    return Shape(distance, (centre[0] - ru, centre[0] + ru, centre[1] - rv, bottom), part)


def _trapezoid(v0, v1, w0, w1, part, centre=0.0) -> Shape:
    """A band from row v0 (half-width w0) to row v1 (half-width w1): torso, hips, skirt, bag."""

    def distance(u, v):
        t = np.clip((v - v0) / (v1 - v0), 0.0, 1.0)
        return np.maximum(np.abs(u - centre) - (w0 + (w1 - w0) * t), np.maximum(v0 - v, v - v1))

    return Shape(distance, (centre - max(w0, w1), centre + max(w0, w1), v0, v1), part)


def _lerp(a, b, t):
    return (a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t)


def _legs(p: Person, pose: Pose, hip_v: float) -> list[Shape]:
    b, shapes = p.body, []
    for side, stride in zip((-1, 1), pose.stride, strict=True):
        hip = (side * b["hips"] * 0.5, hip_v)
        foot = (side * (b["hips"] * 0.5 + stride), 0.96)
        shapes.append(_capsule(hip, foot, b["leg"], SKIN))
        if p.lower != "skirt":
            end = foot if p.lower == "trousers" else _lerp(hip, foot, 0.45)
            shapes.append(_capsule(hip, end, b["leg"] * 1.12, LOWER))
        shapes.append(_ellipse((foot[0] + side * 0.012, 0.97), b["leg"] * 1.3, 0.03, SHOES))
    flare, length = (1.7, 0.2) if p.lower == "skirt" else (1.05, 0.05)
    shapes.append(_trapezoid(hip_v - 0.04, hip_v + length, b["hips"], b["hips"] * flare, LOWER))
    return shapes


def _arms(p: Person, pose: Pose, shoulder_v: float) -> list[Shape]:
    b, shapes = p.body, []
    for side, angle in zip((-1, 1), pose.arms, strict=True):
        top = (side * (b["shoulders"] - b["arm"]), shoulder_v + b["arm"])
        reach = (side * np.sin(angle) * b["arm_length"], np.cos(angle) * b["arm_length"])
        wrist = (top[0] + reach[0], top[1] + reach[1])
        sleeve_end = wrist if p.long_sleeves else _lerp(top, wrist, 0.4)
        shapes.append(_capsule(top, wrist, b["arm"], SKIN))
        shapes.append(_capsule(top, sleeve_end, b["arm"] * 1.15, UPPER))
        shapes.append(_ellipse(_lerp(top, wrist, 1.08), b["arm"] * 1.2, b["arm"] * 1.5, SKIN))
    return shapes


def _bag(p: Person, pose: Pose, shoulder_v: float, hip_v: float) -> list[Shape]:
    b, side = p.body, p.bag_side
    if p.bag == "shoulder":
        centre = side * (b["hips"] + 0.045)
        strap = _capsule(
            (-side * b["shoulders"] * 0.6, shoulder_v), (centre, hip_v - 0.06), 0.008, BAG
        )
        return [strap, _trapezoid(hip_v - 0.08, hip_v + 0.05, 0.05, 0.055, BAG, centre)]
    if p.bag == "backpack" and pose.back:
        return [_trapezoid(shoulder_v + 0.03, hip_v - 0.06, b["shoulders"] * 0.75, b["hips"], BAG)]
    if p.bag == "backpack":  # seen from the front: only the straps
        return [
            _capsule(
                (s * b["shoulders"] * 0.55, shoulder_v),
                (s * b["hips"] * 0.7, hip_v - 0.1),
                0.01,
                BAG,
            )
            for s in (-1, 1)
        ]
    return []


def _shapes(p: Person, pose: Pose) -> list[Shape]:
    """The person's shapes in painting order, back to front."""
    r, shoulder_v, hip_v = p.body["head"], 2.25 * p.body["head"] + 0.02, 1.0 - p.body["legs"]
    head = (0.0, 1.1 * r)
    hair = [_capsule(head, (0.0, shoulder_v + 0.03), r, HAIR)] if p.long_hair else []
    torso = _trapezoid(shoulder_v, hip_v, p.body["shoulders"], p.body["hips"], UPPER)
    shapes = ([] if pose.back else hair) + _legs(p, pose, hip_v) + [torso]
    shapes += _bag(p, pose, shoulder_v, hip_v) + (hair if pose.back else [])
    shapes += _arms(p, pose, shoulder_v)
    hairline = head[1] + (0.75 if pose.back else -0.35) * r
    return shapes + [
        _capsule((0.0, 2.0 * r), (0.0, shoulder_v + 0.01), r * 0.45, SKIN),
        _ellipse(head, r * 0.88, r * 1.1, SKIN),
        _ellipse(head, r * 0.95, r * 1.17, HAIR, below=hairline),
    ]


def _pattern(p: Person, part: int, u, v) -> np.ndarray:
    """Share of the second tone per pixel, float32 [H, W], from u [1, W] and v [H, 1]."""
    kind, freq, third = p.patterns[part]
    if kind == PLAIN:
        return np.zeros((v.size, u.size), np.float32)
    if kind == COLOUR_BLOCK:  # `third` is the row where the two colours meet
        wave = (v - np.float32(third)) * 30.0
    else:  # patterns live in body coordinates, so they move and mirror with the person
        wave_u = np.sin(2 * np.pi * (np.float32(freq) * u + np.float32(third)))
        wave_v = np.sin(2 * np.pi * (np.float32(freq) * v + np.float32(third)))
        wave = {H_STRIPES: wave_v, V_STRIPES: wave_u, CHECKS: wave_u * wave_v}[kind]
    return np.clip(0.5 + 2.5 * np.broadcast_to(wave, (v.size, u.size)), 0.0, 1.0)


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
    weights = np.zeros((6, height, width), np.float32)
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
    patterned = weights * np.stack([_pattern(person, k, u, v) for k in range(6)])
    first, second = person.tones[:, 0].astype(np.float32), person.tones[:, 1].astype(np.float32)
    layer = np.tensordot(weights, first, (0, 0)) + np.tensordot(patterned, second - first, (0, 0))
    # A rounded body: surfaces turning away at the sides catch less light.
    shade = np.clip(1.0 - 0.3 * (u / (2.0 * person.body["shoulders"])) ** 2, 0.6, 1.0)
    return layer * shade[..., None], 1.0 - through


def _scenery(
    rng: np.random.Generator, height: int, width: int, infrared: bool, values
) -> np.ndarray:
    """A wall or street above a floor line with doors, pillars and windows; [H, 3W, C]."""
    wide, channels = 3 * width, 1 if infrared else 3

    def colour():
        value = rng.uniform(*values)
        return (
            np.array([value])
            if infrared
            else _hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.35), value)
        )

    ys = np.arange(height, dtype=np.float32)[:, None, None]
    xs = np.arange(wide, dtype=np.float32)[None, :, None]
    horizon = rng.uniform(0.55, 0.75) * height
    image = np.where(ys < horizon, colour(), colour()) * np.ones((height, wide, channels))
    for _ in range(rng.integers(3, 8)):
        x0, y0 = rng.uniform(-0.2, 1.0) * wide, rng.uniform(0.0, 0.5) * horizon
        x1 = x0 + rng.uniform(0.15, 0.6) * width
        inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < horizon)
        image = np.where(inside, colour(), image)
    ripple = 1.0 + 0.08 * np.sin(xs * rng.uniform(0.05, 0.2) + rng.uniform(0, 2 * np.pi))
    return (image * ripple).astype(np.float32)


def make_camera(rng: np.random.Generator, scene: str, height: int, width: int) -> Camera:
    """A camera of a `scene` in _SCENES: RGB indoor/outdoor, near-infrared or thermal."""
    infrared, temperature, brightness, values, noise, blur = _SCENES[scene]
    t, level = rng.uniform(*temperature), rng.uniform(*brightness)
    gain = np.array([level]) if infrared else level * np.array([1 + 0.15 * t, 1.0, 1 - 0.18 * t])
    return Camera(infrared, gain, _scenery(rng, height, width, infrared, values), noise, blur)


def photograph(
    camera: Camera, layer: np.ndarray, alpha: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One camera image of a rendered person: uint8 [H, W, 3] (RGB) or [H, W] (IR)."""
    height, width = alpha.shape
    start = rng.integers(0, camera.background.shape[1] - width + 1)
    channels = layer[..., 3:] if camera.infrared else layer[..., :3]
    image = channels + (1.0 - alpha[..., None]) * camera.background[:, start : start + width]
    image = image * (camera.gain * rng.uniform(0.9, 1.1)).astype(np.float32)
    if camera.infrared:  # brightest in the middle: the NIR illuminator, thermal lens fall-off
        across = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
        image = image * (1.1 - 0.8 * across**2)[None, :, None]
    image = ndimage.gaussian_filter(image, sigma=(camera.blur, camera.blur, 0))
    image = image + camera.noise * rng.standard_normal(image.shape, dtype=np.float32)
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return image[..., 0] if camera.infrared else image


def _check_request(out_dir: str, num_ids, min_ids: int, seed, height, width) -> str:
    """Validates the arguments of a writer and creates `out_dir`; returns its absolute path."""
    for name, value, low, high in (
        ("num_ids", num_ids, min_ids, MAX_IDS),
        ("seed", seed, 0, 2**63),
        ("height", height, 16, 4096),
        ("width", width, 8, 4096),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise FileExistsError(f"output directory {out_dir} exists and is not an empty directory")
    os.makedirs(out_dir, exist_ok=True)
    return os.path.abspath(out_dir)


def _sysu_splits(num_ids: int, rng: np.random.Generator) -> dict[str, list[int]]:
    """About 60/20/20% of the ids, shuffled over the id range as in the real split files."""
    order = rng.permutation(np.arange(1, num_ids + 1))
    test, val = max(2, round(0.2 * num_ids)), max(1, round(0.2 * num_ids))
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    return {split: sorted(int(pid) for pid in ids) for split, ids in parts.items()}


def _sysu_cameras(rng: np.random.Generator, is_test: bool) -> list[int]:
    """Drops 0-2 camera folders, keeping an RGB and an IR camera (and cam 1 or 2 for test ids)."""

    def usable(cameras):
        rgb, ir = set(cameras) & set(SYSU_RGB_CAMERAS), set(cameras) & set(SYSU_IR_CAMERAS)
        return bool(rgb and ir and (not is_test or rgb & {1, 2}))

    cameras = [1, 2, 3, 4, 5, 6]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        droppable = [c for c in cameras if usable([k for k in cameras if k != c])]
        cameras.remove(int(rng.choice(droppable)))
    return cameras


def _save_sysu_image(image: np.ndarray, path: str, camera: int) -> None:
    # Real SYSU-MM01 IR images come both ways: camera 3 as 3-channel, camera 6 as 1-channel.
    if camera == 3:
        image = np.repeat(image[..., None], 3, axis=-1)
    Image.fromarray(image).save(path, quality=90)


def _write_permutations(
    path: str, counts: dict[tuple[int, int], int], num_ids: int, seed: int
) -> None:
    """The kit's rand_perm_cam: 6 x 1 cells of (num ids) x 1 cells of 10 x n permutations."""
    rng = np.random.default_rng([seed, 3])
    cameras = np.empty((6, 1), dtype=object)
    for camera in range(1, 7):
        persons = np.empty((num_ids, 1), dtype=object)
        for pid in range(1, num_ids + 1):
            n = counts.get((camera, pid), 0)
            rows = [rng.permutation(n) + 1.0 for _ in range(TRIALS)] if n else None
            persons[pid - 1, 0] = np.array(rows, dtype=np.float64) if n else np.zeros((0, 0))
        cameras[camera - 1, 0] = persons
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"rand_perm_cam": cameras})
    content = bytearray(buffer.getvalue())
    # savemat stamps the creation time into the 116-byte text header; fix it for reproducibility.
    content[:116] = b"MATLAB 5.0 MAT-file, written by tfreid.data.synthetic".ljust(116)
    with open(path, "wb") as f:
        f.write(content)


def write_sysu(
    out_dir: str, num_ids: int = 100, seed: int = 0, height: int = 128, width: int = 64
) -> str:
    """Writes a SYSU-MM01-layout data set of `num_ids` identities; returns its absolute root.

    Layout: camC/PPPP/NNNN.jpg, exp/{train,val,test}_id.txt, exp/rand_perm_cam.mat.
    Raises ValueError for too few ids or a tiny image size, FileExistsError for a non-empty
    out_dir.
    """
    root = _check_request(out_dir, num_ids, SYSU_MIN_IDS, seed, height, width)
    splits = _sysu_splits(num_ids, np.random.default_rng([seed, 0]))
    cameras = {
        c: make_camera(np.random.default_rng([seed, 1, c]), SYSU_SCENES[c], height, width)
        for c in range(1, 7)
    }
    counts = {}
    for camera in cameras:
        os.makedirs(os.path.join(root, f"cam{camera}"))
    for pid in range(1, num_ids + 1):
        rng = np.random.default_rng([seed, 2, pid])
        person = draw_person(rng)
        for camera in _sysu_cameras(rng, pid in splits["test"]):
            folder = os.path.join(root, f"cam{camera}", f"{pid:04d}")
            os.makedirs(folder)
            counts[camera, pid] = int(rng.integers(2, 14))
            for number in range(1, counts[camera, pid] + 1):
                layer, alpha = render_person(person, draw_pose(rng), height, width)
                image = photograph(cameras[camera], layer, alpha, rng)
                _save_sysu_image(image, os.path.join(folder, f"{number:04d}.jpg"), camera)
    os.makedirs(os.path.join(root, "exp"))
    for split, ids in splits.items():
        with open(os.path.join(root, "exp", f"{split}_id.txt"), "w", encoding="utf-8") as f:
            f.write(",".join(str(pid) for pid in ids))
    _write_permutations(os.path.join(root, "exp", "rand_perm_cam.mat"), counts, num_ids, seed)
    return root


def _write_regdb_splits(
    root: str, files: dict[str, dict[int, list[str]]], num_ids: int, seed: int
) -> None:
    """idx/{train,test}_{visible,thermal}_{t}.txt: a seeded half of the ids trains in trial t."""
    os.makedirs(os.path.join(root, "idx"))
    for trial in range(1, TRIALS + 1):
        order = np.random.default_rng([seed, 4, trial]).permutation(np.arange(1, num_ids + 1))
        halves = {"train": sorted(order[: num_ids // 2]), "test": sorted(order[num_ids // 2 :])}
        for split, pids in halves.items():
            for folder in ("Visible", "Thermal"):
                lines = [
                    f"{folder}/{pid}/{name} {label}\n"
                    for label, pid in enumerate(pids)
                    for name in sorted(files[folder][pid])
                ]
                path = os.path.join(root, "idx", f"{split}_{folder.lower()}_{trial}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.writelines(lines)


def write_regdb(
    out_dir: str, num_ids: int = 100, seed: int = 0, height: int = 128, width: int = 64
) -> str:
    """Writes a RegDB-layout data set of `num_ids` identities; returns its absolute root.

    Layout: {Visible,Thermal}/<pid>/<gender>_<front|back>_<v|t>_<counter>_<pid>.bmp, 10 aligned
    visible/thermal pairs per person (visible 3-channel, thermal 8-bit grayscale BMP), and
    idx/{train,test}_{visible,thermal}_{1..10}.txt. Raises like write_sysu.
    """
    root = _check_request(out_dir, num_ids, REGDB_MIN_IDS, seed, height, width)
    cameras = {
        "Visible": make_camera(np.random.default_rng([seed, 1, 1]), "outdoor", height, width),
        "Thermal": make_camera(np.random.default_rng([seed, 1, 2]), "thermal", height, width),
    }
    files = {folder: {} for folder in cameras}
    for pid in range(1, num_ids + 1):
        rng = np.random.default_rng([seed, 2, pid])
        person = draw_person(rng)
        gender = "female" if person.female else "male"
        for folder in cameras:
            os.makedirs(os.path.join(root, folder, str(pid)))
            files[folder][pid] = []
        for number in range(REGDB_IMAGES_PER_ID):
            pose = draw_pose(rng)  # the two cameras of RegDB capture the same moment
            layer, alpha = render_person(person, pose, height, width)
            counter = (pid - 1) * REGDB_IMAGES_PER_ID + number + 1
            for folder, camera in cameras.items():
                view = "back" if pose.back else "front"
                name = f"{gender}_{view}_{folder[0].lower()}_{counter:05d}_{pid}.bmp"
                image = photograph(camera, layer, alpha, rng)
                Image.fromarray(image).save(os.path.join(root, folder, str(pid), name))
                files[folder][pid].append(name)
    _write_regdb_splits(root, files, num_ids, seed)
    return root
