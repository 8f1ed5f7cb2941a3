"""Procedural pedestrians for the synthetic data sets: who they are and how they stand.

An identity is a body build plus an outfit: garment cuts (sleeves, coat, trousers, shorts or
skirt), garment patterns (stripes, checks, bands, yokes, open jackets, chest prints), hair,
hat and bag. These shapes and patterns tell people apart, and they show in both modalities.

Tones are what must not transfer. Every garment has a ground and a pattern tone, each with a
visible colour and an infrared reflectance. A person's clothes take their gray levels from one
of a few luminance schemes and their infrared reflectances from one of a few material schemes,
drawn independently: neither how bright the clothes look nor how bright they glow in infrared
identifies a person, and neither predicts the other. Hues are free, so the colours still look
varied. A pattern is darker than its ground in both modalities (dark dyes and prints absorb
near infrared too), so a garment's pattern looks alike in both while its brightness does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from tfreid.colour import LUMINANCE

SKIN, HAIR, UPPER, LOWER, SHOES, BAG, HAT = range(7)
NUM_PARTS = 7
PLAIN, H_STRIPES, V_STRIPES, DIAGONAL, CHECKS, YOKE, BAND, OPEN, PRINT = range(9)
# (probability of each pattern kind) for the upper garment and the trousers, shorts or skirt.
UPPER_KINDS = (0.1, 0.16, 0.1, 0.1, 0.1, 0.1, 0.1, 0.12, 0.12)
LOWER_KINDS = (0.55, 0.1, 0.0, 0.0, 0.15, 0.0, 0.2, 0.0, 0.0)

# Garment tones shared by many identities: (part, tone) of each entry of a tone scheme.
SCHEME_TONES = ((UPPER, 0), (UPPER, 1), (LOWER, 0), (LOWER, 1), (SHOES, 0), (BAG, 0), (HAT, 0))
NUM_SCHEMES = 3  # per modality; each is worn by about a third of the people
# Near-infrared reflectances of a few fabric materials, whatever their dye looks like.
MATERIALS = (0.12, 0.3, 0.5, 0.7, 0.88)
MIN_LUMA_STEP, MIN_IR_STEP = 0.25, 0.35  # contrast of a pattern in each modality
LUMA = np.array(LUMINANCE)  # the gray encodings' weights
SKIN_LUMAS = (0.3, 0.5, 0.7)  # dark, medium and light skin


@dataclass(frozen=True)
class Wardrobe:
    """Garment tone schemes of one data set, each worn by many identities.

    A person wears one luminance scheme and, drawn independently, one infrared scheme. So
    neither the gray level nor the infrared intensity of the clothes tells people apart, and
    neither predicts the other; hues are free, so the visible colours still look varied.

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


class Pose(NamedTuple):
    """One view: scale and top are fractions of image height, dx of image width."""

    scale: float
    top: float
    dx: float
    mirror: bool
    back: bool
    arms: tuple[float, float]  # outward arm angles (radians)
    stride: tuple[float, float]  # outward foot offsets (body heights)


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


def colour_of_luma(rng: np.random.Generator, luma: float) -> np.ndarray:
    """An RGB colour of any hue with the given luminance (gray level)."""
    saturation = 0.0 if rng.random() < 0.35 else rng.uniform(0.2, 0.85)
    hue = hsv_to_rgb(rng.uniform(), saturation, 1.0)
    colour = hue * luma / (hue @ LUMA)
    # Too bright a hue for this gray level: blend towards the gray, which keeps the luminance.
    excess = colour.max() - luma
    return luma + (colour - luma) * min(1.0, (1.0 - luma) / excess) if excess > 0 else colour


def _draw_pattern(rng: np.random.Generator, kinds) -> np.ndarray:
    """(kind, cycles, size or position, phase or shape) of a garment pattern."""
    kind = rng.choice(len(kinds), p=kinds)
    cycles = rng.choice([1.5, 2.0, 2.5, 3.0, 3.5, 4.0]) if kind <= CHECKS else 0.0
    size = {YOKE: (0.3, 0.55), BAND: (0.2, 0.75), OPEN: (0.15, 0.45), PRINT: (0.3, 0.5)}.get(
        kind, (0.3, 0.6)
    )
    shape = rng.integers(3) if kind == PRINT else rng.uniform(0, 1)
    return np.array([kind, cycles, rng.uniform(*size), shape])


def _tones(rng: np.random.Generator, wardrobe: Wardrobe) -> np.ndarray:
    """float [7, 2, 4]: (r, g, b, ir) of every part's two tones."""
    tones = np.zeros((NUM_PARTS, 2, 4))
    luma = wardrobe.luma[rng.integers(len(wardrobe.luma))]
    ir = wardrobe.ir[rng.integers(len(wardrobe.ir))]
    for (part, tone), gray, reflectance in zip(SCHEME_TONES, luma, ir, strict=True):
        gray = np.clip(gray + rng.normal(0.0, 0.02), 0.02, 0.98)
        tones[part, tone] = np.append(colour_of_luma(rng, gray), reflectance)
    for part in (SHOES, BAG, HAT):
        tones[part, 1] = tones[part, 0]
    skin = SKIN_LUMAS[rng.integers(len(SKIN_LUMAS))] + rng.normal(0.0, 0.02)
    skin_hue = hsv_to_rgb(rng.uniform(0.03, 0.09), rng.uniform(0.3, 0.5), 1.0)
    tones[SKIN] = np.append(skin_hue * skin / (skin_hue @ LUMA), 0.75)  # skin reflects NIR well
    hair = hsv_to_rgb(rng.uniform(0.03, 0.12), rng.uniform(0.2, 0.6), rng.uniform(0.08, 0.3))
    tones[HAIR] = np.append(hair, 0.3 + 0.3 * rng.integers(2))
    return tones


def draw_person(rng: np.random.Generator, wardrobe: Wardrobe) -> Person:
    """Draws one identity's build, outfit, colours and infrared reflectances."""
    build, female = rng.uniform(0.8, 1.3), bool(rng.random() < 0.5)
    body = {
        "head": rng.uniform(0.055, 0.07),
        "shoulders": rng.uniform(0.11, 0.15) * build,
        "hips": rng.uniform(0.085, 0.115) * build,
        "legs": rng.uniform(0.44, 0.52),
        "arm": rng.uniform(0.027, 0.035) * build,
        "leg": rng.uniform(0.04, 0.05) * build,
        "arm_length": rng.uniform(0.33, 0.39),
    }
    patterns = np.zeros((NUM_PARTS, 4))
    patterns[UPPER], patterns[LOWER] = (
        _draw_pattern(rng, UPPER_KINDS),
        _draw_pattern(rng, LOWER_KINDS),
    )
    lower_probs = [0.45, 0.2, 0.35] if female else [0.75, 0.25, 0.0]
    hair_probs = [0.3, 0.5, 0.2] if female else [0.9, 0.05, 0.05]
    return Person(
        body=body,
        tones=_tones(rng, wardrobe),
        patterns=patterns,
        sleeves=str(rng.choice(["long", "short", "none"], p=[0.45, 0.4, 0.15])),
        coat=bool(rng.random() < 0.15),
        lower=str(rng.choice(["trousers", "shorts", "skirt"], p=lower_probs)),
        hair=str(rng.choice(["short", "long", "bun"], p=hair_probs)),
        hat=str(rng.choice(["none", "cap", "beanie"], p=[0.7, 0.15, 0.15])),
        female=female,
        bag=str(rng.choice(["none", "shoulder", "backpack", "hand"], p=[0.4, 0.2, 0.25, 0.15])),
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
