"""Named styles of the synthetic generator: who the people are and how the cameras see them.

A style fixes everything that a different generator would do differently: the primitives bodies
are drawn with and their proportions, the garment and pattern vocabulary, how often a pattern
changes polarity or vanishes in infrared, the spread of poses, viewpoints, scales and crops,
occlusion and background clutter, and the cameras' blur, noise, resolution, compression,
vignetting and contrast. Training uses `default`; a model that learned cross-modality identity
rather than the default style's drawing habits should still find people in the other styles.
"""

from __future__ import annotations

from dataclasses import dataclass

# Pattern kinds (see patterns.py). The default style uses the first nine; the others swap in
# kinds it never draws.
PLAIN, H_STRIPES, V_STRIPES, DIAGONAL, CHECKS, YOKE, BAND, OPEN, PRINT = range(9)
DOTS, ZIGZAG, SPLIT, CAMO, PLAID = range(9, 14)
NUM_KINDS = 14


@dataclass(frozen=True)
class Style:
    """One way of drawing a synthetic data set. Ranges are (low, high) of uniform draws.

    Attributes:
        description: one line for `make_synthetic.py --help`.
        blocky: bodies of boxes and rounded squares instead of capsules and ellipses.
        build, head, legs: body width factor, head radius and leg length (body heights).
        upper_kinds, lower_kinds: {pattern kind: probability} of tops and of lower garments.
        coat, bag: probability of a knee-length coat, of carrying a bag.
        ir_flip: probability that a garment's pattern is brighter than its ground in infrared
            while darker in visible light (dyes differ in the near infrared).
        ir_vanish: probability that a pattern reflects infrared like its ground, so it does
            not show in infrared at all.
        saturation: colour saturation of clothes.
        scale: person height over image height. shift: horizontal offset, image widths.
        crop: probability of a detection box that cuts off the head or the feet.
        side_views: share of side and three-quarter views (the rest face front or back).
        bag_hidden: probability that a carried bag is out of sight in one image.
        occlusion: probability of something between camera and person.
        clutter: number of objects in the scenery behind the person, per image.
        texture: amplitude of the smooth fabric and lighting texture, at most.
        blur, noise: range of each camera's factor on its scene's blur and sensor noise.
        jpeg: JPEG quality range of the cameras.
        lowres: probability that a camera records at a lower resolution and is upscaled.
        vignette: darkening of the image corners, at most.
        contrast: camera contrast range (1 = as lit).
    """

    description: str
    blocky: bool
    build: tuple[float, float]
    head: tuple[float, float]
    legs: tuple[float, float]
    upper_kinds: dict[int, float]
    lower_kinds: dict[int, float]
    coat: float
    bag: float
    ir_flip: float
    ir_vanish: float
    saturation: tuple[float, float]
    scale: tuple[float, float]
    shift: float
    crop: float
    side_views: float
    bag_hidden: float
    occlusion: float
    clutter: tuple[int, int]
    texture: float
    blur: tuple[float, float]
    noise: tuple[float, float]
    jpeg: tuple[int, int]
    lowres: float
    vignette: float
    contrast: tuple[float, float]


STYLES = {
    "default": Style(
        description="rounded bodies, stripes/checks/bands/yokes/prints, all views, mild "
        "occlusion and clutter, cameras of widely varying blur, noise, resolution, JPEG "
        "quality and contrast (what the quickstart trains on)",
        blocky=False,
        build=(0.8, 1.3),
        head=(0.055, 0.07),
        legs=(0.44, 0.52),
        upper_kinds={
            PLAIN: 0.1,
            H_STRIPES: 0.16,
            V_STRIPES: 0.1,
            DIAGONAL: 0.1,
            CHECKS: 0.1,
            YOKE: 0.1,
            BAND: 0.1,
            OPEN: 0.12,
            PRINT: 0.12,
        },
        lower_kinds={PLAIN: 0.55, H_STRIPES: 0.1, CHECKS: 0.15, BAND: 0.2},
        coat=0.15,
        bag=0.6,
        ir_flip=0.3,
        ir_vanish=0.1,
        saturation=(0.2, 0.85),
        scale=(0.68, 1.0),
        shift=0.12,
        crop=0.15,
        side_views=0.4,
        bag_hidden=0.2,
        occlusion=0.25,
        clutter=(2, 6),
        texture=0.15,
        blur=(0.6, 1.8),
        noise=(0.7, 2.0),
        jpeg=(40, 95),
        lowres=0.3,
        vignette=0.4,
        contrast=(0.6, 1.3),
    ),
    "blocky": Style(
        description="boxy bodies with big heads and short legs, dots/zigzags/split colours/"
        "stripes, saturated colours, heavy JPEG, low resolution, strong texture",
        blocky=True,
        build=(0.75, 1.45),
        head=(0.07, 0.085),
        legs=(0.38, 0.46),
        upper_kinds={PLAIN: 0.15, DOTS: 0.25, ZIGZAG: 0.2, SPLIT: 0.2, H_STRIPES: 0.2},
        lower_kinds={PLAIN: 0.5, DOTS: 0.2, SPLIT: 0.3},
        coat=0.3,
        bag=0.45,
        ir_flip=0.5,
        ir_vanish=0.15,
        saturation=(0.6, 1.0),
        scale=(0.6, 0.95),
        shift=0.15,
        crop=0.1,
        side_views=0.5,
        bag_hidden=0.3,
        occlusion=0.15,
        clutter=(0, 3),
        texture=0.25,
        blur=(0.5, 0.7),
        noise=(1.4, 1.8),
        jpeg=(35, 60),
        lowres=0.6,
        vignette=0.45,
        contrast=(0.9, 1.35),
    ),
    "night": Style(
        description="slim tall bodies, camouflage/plaid/vertical stripes/bands, muted "
        "colours, low-contrast cameras, heavy blur and noise, crowded and occluded",
        blocky=False,
        build=(0.7, 1.05),
        head=(0.048, 0.06),
        legs=(0.48, 0.56),
        upper_kinds={PLAIN: 0.15, CAMO: 0.25, PLAID: 0.25, V_STRIPES: 0.15, BAND: 0.2},
        lower_kinds={PLAIN: 0.5, CAMO: 0.2, PLAID: 0.3},
        coat=0.35,
        bag=0.7,
        ir_flip=0.2,
        ir_vanish=0.25,
        saturation=(0.0, 0.4),
        scale=(0.72, 1.05),
        shift=0.1,
        crop=0.25,
        side_views=0.25,
        bag_hidden=0.15,
        occlusion=0.4,
        clutter=(4, 9),
        texture=0.05,
        blur=(1.6, 1.9),
        noise=(1.8, 2.4),
        jpeg=(85, 95),
        lowres=0.25,
        vignette=0.35,
        contrast=(0.55, 0.85),
    ),
}


def get_style(name: str) -> Style:
    """The style called `name`; ValueError naming the known styles otherwise."""
    if name not in STYLES:
        raise ValueError(f"style must be one of {', '.join(STYLES)}, got {name!r}")
    return STYLES[name]
