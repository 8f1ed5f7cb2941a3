"""Procedural pedestrians for the synthetic data sets: who they are and how they stand.

An identity is a body build plus an outfit: garment cuts (sleeves, coat, trousers, shorts or
skirt), garment patterns (the style's vocabulary, see styles.py and patterns.py), hair, hat and
bag. These shapes and patterns tell people apart, and they show in both modalities, though not
always: a pattern may be hidden by a pose, an occluder or the crop, and some dyes reflect
infrared like the cloth around them, so their pattern vanishes in infrared.

Tones are what must not transfer. Every garment has a ground and a pattern tone, each with a
visible colour and an infrared reflectance. A person's clothes take their gray levels from one
of a few luminance schemes and their infrared reflectances from one of a few material schemes,
drawn independently: neither how bright the clothes look nor how bright they glow in infrared
identifies a person, and neither predicts the other. Hues are free, so the colours still look
varied. A pattern is darker than its ground in visible light; in infrared it is darker too,
except on garments whose dyes flip or lose that contrast (style.ir_flip, style.ir_vanish).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tfreid.data.patterns import draw_pattern
from tfreid.data.styles import Style

SKIN, HAIR, UPPER, LOWER, SHOES, BAG, HAT = range(7)
NUM_PARTS = 7

# Garment tones shared by many identities: (part, tone) of each entry of a tone scheme.
SCHEME_TONES = ((UPPER, 0), (UPPER, 1), (LOWER, 0), (LOWER, 1), (SHOES, 0), (BAG, 0), (HAT, 0))
NUM_SCHEMES = 3  # per modality; each is worn by about a third of the people
# Near-infrared reflectances of a few fabric materials, whatever their dye looks like.
MATERIALS = (0.12, 0.3, 0.5, 0.7, 0.88)
MIN_LUMA_STEP, MIN_IR_STEP = 0.25, 0.35  # contrast of a pattern in each modality
# BT.601 luminance weights of (R, G, B), as the model's gray encodings use them
# (tfreid/layers/modality_encoding.py; not imported: generating data starts no TensorFlow).
LUMA = np.array((0.299, 0.587, 0.114))
SKIN_LUMAS = (0.3, 0.5, 0.7)  # dark, medium and light skin


@dataclass(frozen=True)
class Wardrobe:
    """Garment tone schemes of one data set, each worn by many identities.

    Attributes:
        luma: float [S, 7]: luminance of each SCHEME_TONES entry, per scheme.
        ir: float [S, 7]: infrared reflectance of each SCHEME_TONES entry, per scheme.
    """

    luma: np.ndarray
    ir: np.ndarray


@dataclass(frozen=True)
class Person:
    """One identity. Lengths are fractions of the person's height (head top 0, soles 1).

    Attributes:
        body: proportions: head radius, shoulder/hip half-widths, leg length, limb radii.
        tones: float [7, 2, 4]: per part, two pattern tones as (r, g, b, ir) in [0, 1].
        patterns: float [7, 4]: per part (kind, cycles, size or position, phase or shape).
        sleeves: "long", "short" or "none"; coat: the upper garment reaches the knees.
        lower: "trousers", "shorts" or "skirt".
        hair: "short", "long" or "bun"; hat: "none", "cap" or "beanie"; female: for file names.
        bag: "none", "shoulder", "backpack" or "hand"; bag_side: -1 or 1.
        blocky: drawn with boxes and rounded squares instead of capsules and ellipses.
    """

    body: dict[str, float]
    tones: np.ndarray
    patterns: np.ndarray
    sleeves: str
    coat: bool
    lower: str
    hair: str
    hat: str
    female: bool
    bag: str
    bag_side: int
    blocky: bool = False


class Pose(NamedTuple):
    """One view of a person: how they stand, and where the detection box puts them.

    scale and top are fractions of image height, dx of image width; yaw is the direction the
    person faces (0 towards the camera, pi away, pi/2 to the image's right).
    """

    scale: float
    top: float
    dx: float
    yaw: float
    arms: tuple[float, float]  # outward arm angles (radians)
    stride: tuple[float, float]  # outward foot offsets (body heights)
    swing: float  # walking phase times amplitude: legs and arms forward (+) or back (-)
    stretch: float  # width factor of the detection box's aspect
    bag_shown: bool
    warp: tuple[float, float, float]  # cloth folds: amplitude, frequency, phase

    @property
    def back(self) -> bool:
        """Seen from behind rather than from the front."""
        return bool(np.cos(self.yaw) < 0.0)


def _ground_and_pattern(draw, step: float) -> list[float]:
    """A garment's ground tone and its darker pattern tone, at least `step` apart."""
    ground, pattern = draw(), draw()
    while abs(ground - pattern) < step:
        pattern = draw()
    return [max(ground, pattern), min(ground, pattern)]


def _scheme(draw, step: float) -> np.ndarray:
    """float [7]: one value per SCHEME_TONES entry, each drawn by `draw()`."""
    garments = _ground_and_pattern(draw, step) + _ground_and_pattern(draw, step)
    return np.array(garments + [draw(), draw(), draw()])


def draw_wardrobe(rng: np.random.Generator, schemes: int = NUM_SCHEMES) -> Wardrobe:
    """Draws `schemes` luminance and `schemes` infrared tone schemes."""

    def material():
        return MATERIALS[rng.integers(len(MATERIALS))] + rng.uniform(-0.03, 0.03)

    luma = [_scheme(lambda: rng.uniform(0.08, 0.9), MIN_LUMA_STEP) for _ in range(schemes)]
    ir = [_scheme(material, MIN_IR_STEP) for _ in range(schemes)]
    return Wardrobe(np.array(luma), np.array(ir))


def hsv_to_rgb(h: float, s: float, v: float) -> np.ndarray:
    k = (np.array([5.0, 3.0, 1.0]) + 6.0 * h) % 6.0
    return v - v * s * np.clip(np.minimum(k, 4.0 - k), 0.0, 1.0)


def colour_of_luma(rng: np.random.Generator, luma: float, saturation=(0.2, 0.85)) -> np.ndarray:
    """An RGB colour of any hue with the given luminance (gray level)."""
    saturation = 0.0 if rng.random() < 0.35 else rng.uniform(*saturation)
    hue = hsv_to_rgb(rng.uniform(), saturation, 1.0)
    colour = hue * luma / (hue @ LUMA)
    # Too bright a hue for this gray level: blend towards the gray, which keeps the luminance.
    excess = colour.max() - luma
    return luma + (colour - luma) * min(1.0, (1.0 - luma) / excess) if excess > 0 else colour


def _infrared_contrast(rng: np.random.Generator, tones: np.ndarray, style: Style) -> None:
    """Flips or removes, in place, the infrared contrast of some garments' patterns."""
    for part in (UPPER, LOWER):
        draw = rng.random()
        if draw < style.ir_flip:
            tones[part, :, 3] = tones[part, ::-1, 3]
        elif draw < style.ir_flip + style.ir_vanish:
            tones[part, 1, 3] = tones[part, 0, 3]


def _tones(rng: np.random.Generator, wardrobe: Wardrobe, style: Style) -> np.ndarray:
    """float [7, 2, 4]: (r, g, b, ir) of every part's two tones."""
    tones = np.zeros((NUM_PARTS, 2, 4))
    luma = wardrobe.luma[rng.integers(len(wardrobe.luma))]
    ir = wardrobe.ir[rng.integers(len(wardrobe.ir))]
    for (part, tone), gray, reflectance in zip(SCHEME_TONES, luma, ir, strict=True):
        gray = np.clip(gray + rng.normal(0.0, 0.02), 0.02, 0.98)
        tones[part, tone] = np.append(colour_of_luma(rng, gray, style.saturation), reflectance)
    for part in (SHOES, BAG, HAT):
        tones[part, 1] = tones[part, 0]
    _infrared_contrast(rng, tones, style)
    skin = SKIN_LUMAS[rng.integers(len(SKIN_LUMAS))] + rng.normal(0.0, 0.02)
    skin_hue = hsv_to_rgb(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.5), 1.0)
    tones[SKIN] = np.append(skin_hue * skin / (skin_hue @ LUMA), 0.75)  # skin reflects NIR well
    hair = hsv_to_rgb(rng.uniform(0.03, 0.12), rng.uniform(0.2, 0.6), rng.uniform(0.08, 0.3))
    tones[HAIR] = np.append(hair, 0.3 + 0.3 * rng.integers(2))
    return tones


def draw_person(rng: np.random.Generator, wardrobe: Wardrobe, style: Style) -> Person:
    """Draws one identity's build, outfit, colours and infrared reflectances."""
    build, female = rng.uniform(*style.build), bool(rng.random() < 0.5)
    body = {
        "head": rng.uniform(*style.head),
        "shoulders": rng.uniform(0.11, 0.15) * build,
        "hips": rng.uniform(0.085, 0.115) * build,
        "legs": rng.uniform(*style.legs),
        "arm": rng.uniform(0.027, 0.035) * build,
        "leg": rng.uniform(0.04, 0.05) * build,
        "arm_length": rng.uniform(0.33, 0.39),
    }
    patterns = np.zeros((NUM_PARTS, 4))
    patterns[UPPER] = draw_pattern(rng, style.upper_kinds)
    patterns[LOWER] = draw_pattern(rng, style.lower_kinds)
    lower_probs = [0.45, 0.2, 0.35] if female else [0.75, 0.25, 0.0]
    hair_probs = [0.3, 0.5, 0.2] if female else [0.9, 0.05, 0.05]
    bag = "none" if rng.random() >= style.bag else str(rng.choice(["shoulder", "backpack", "hand"]))
    return Person(
        body=body,
        tones=_tones(rng, wardrobe, style),
        patterns=patterns,
        sleeves=str(rng.choice(["long", "short", "none"], p=[0.45, 0.4, 0.15])),
        coat=bool(rng.random() < style.coat),
        lower=str(rng.choice(["trousers", "shorts", "skirt"], p=lower_probs)),
        hair=str(rng.choice(["short", "long", "bun"], p=hair_probs)),
        hat=str(rng.choice(["none", "cap", "beanie"], p=[0.7, 0.15, 0.15])),
        female=female,
        bag=bag,
        bag_side=int(rng.choice([-1, 1])),
        blocky=style.blocky,
    )


def _yaw(rng: np.random.Generator, style: Style) -> float:
    """Front or back within 20 degrees, or (style.side_views) any direction."""
    if rng.random() < style.side_views:
        return float(rng.uniform(-np.pi, np.pi))
    return float(np.pi * rng.integers(2) + rng.uniform(-0.35, 0.35))


def draw_pose(rng: np.random.Generator, style: Style) -> Pose:
    """Draws the viewpoint, limb positions and detection box of one image."""
    scale = rng.uniform(*style.scale)
    if rng.random() < style.crop:  # the box cuts off the head or the feet
        top = rng.choice([-rng.uniform(0.05, 0.15), 1.0 - scale * rng.uniform(0.8, 0.92)])
    else:
        top = rng.uniform(0.01, max(0.011, 0.99 - scale))
    return Pose(
        scale=scale,
        top=float(top),
        dx=rng.uniform(-style.shift, style.shift),
        yaw=_yaw(rng, style),
        arms=tuple(rng.uniform(0.04, 0.3, 2)),
        stride=tuple(rng.uniform(-0.03, 0.06, 2)),
        swing=float(rng.uniform(-0.09, 0.09)),
        stretch=float(np.exp(rng.uniform(-0.15, 0.15))),
        bag_shown=bool(rng.random() >= style.bag_hidden),
        warp=(rng.uniform(0.0, 0.03), rng.uniform(0.5, 1.5), rng.uniform(0.0, 1.0)),
    )
