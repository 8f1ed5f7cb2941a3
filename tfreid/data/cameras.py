"""Cameras of the synthetic data sets: scenery, clutter, occluders, optics and sensor.

A camera is fixed for a data set: its scenery (a panorama three images wide, cropped per
image), lighting, blur, noise, resolution, JPEG quality, vignetting and contrast. Every image
adds its own clutter behind the person, sometimes something between camera and person (a pole,
a railing, a passer-by), light falling unevenly on the person, cloth texture, exposure and
noise. RGB cameras see the person's colours; IR cameras see their infrared reflectances.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import ndimage

from tfreid.data.pedestrians import hsv_to_rgb
from tfreid.data.styles import Style

LIGHT_SLOPE = 0.8  # log brightness change from the top to the bottom of the image, at most

# scene: (infrared, colour temperature range, brightness range, scenery value range, noise, blur)
_SCENES = {
    "indoor": (False, (0.2, 1.0), (0.75, 1.0), (0.35, 0.8), 0.012, 0.45),
    "outdoor": (False, (-1.0, 0.1), (0.95, 1.2), (0.3, 0.9), 0.012, 0.45),
    # LLCM's visible images: dusk and street light, dim, noisy and blurred
    "low_light": (False, (-0.3, 0.8), (0.35, 0.6), (0.1, 0.45), 0.03, 0.8),
    "nir_indoor": (True, (0.0, 0.0), (0.95, 1.15), (0.25, 0.55), 0.025, 0.9),
    "nir_outdoor": (True, (0.0, 0.0), (0.8, 1.0), (0.05, 0.3), 0.035, 1.1),
    "thermal": (True, (0.0, 0.0), (0.9, 1.1), (0.05, 0.2), 0.02, 1.4),
}


class Camera(NamedTuple):
    """A fixed camera: its scenery and optics.

    Attributes:
        infrared: records infrared reflectance (one channel) instead of colour.
        gain: float [3] colour temperature x brightness, or [1] IR exposure.
        background: float32 [H, 3W, 3 or 1] albedo or IR reflectance of the scenery.
        values: (low, high) brightness of the scenery's objects, for clutter and occluders.
        noise, blur: sensor noise (std of [0, 1] values) and lens blur (pixels).
        resolution: recorded size over stored size (1 = full resolution).
        quality: JPEG quality the camera's images are stored with.
        vignette: darkening of the corners; contrast: gain of the tone curve around mid-gray.
    """

    infrared: bool
    gain: np.ndarray
    background: np.ndarray
    values: tuple[float, float]
    noise: float
    blur: float
    resolution: float
    quality: int
    vignette: float
    contrast: float


def _tone(rng: np.random.Generator, infrared: bool, values) -> np.ndarray:
    """A random scenery colour (RGB) or reflectance (IR) of brightness in `values`."""
    value = rng.uniform(*values)
    if infrared:
        return np.array([value])
    return hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.35), value)


def _scenery(rng: np.random.Generator, height: int, width: int, infrared: bool, values):
    """A wall or street above a floor line with doors, pillars and windows; [H, 3W, C]."""
    wide, channels = 3 * width, 1 if infrared else 3
    ys = np.arange(height, dtype=np.float32)[:, None, None]
    xs = np.arange(wide, dtype=np.float32)[None, :, None]
    horizon = rng.uniform(0.55, 0.75) * height
    image = np.where(ys < horizon, _tone(rng, infrared, values), _tone(rng, infrared, values))
    image = image * np.ones((height, wide, channels))
    for _ in range(rng.integers(3, 8)):
        x0, y0 = rng.uniform(-0.2, 1.0) * wide, rng.uniform(0.0, 0.5) * horizon
        x1 = x0 + rng.uniform(0.15, 0.6) * width
        inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < horizon)
        image = np.where(inside, _tone(rng, infrared, values), image)
    ripple = 1.0 + 0.08 * np.sin(xs * rng.uniform(0.05, 0.2) + rng.uniform(0, 2 * np.pi))
    return (image * ripple).astype(np.float32)


def make_camera(
    rng: np.random.Generator, scene: str, height: int, width: int, style: Style
) -> Camera:
    """A camera of a `scene` in _SCENES (RGB indoor/outdoor, near-infrared or thermal)."""
    infrared, temperature, brightness, values, noise, blur = _SCENES[scene]
    t, level = rng.uniform(*temperature), rng.uniform(*brightness)
    gain = np.array([level]) if infrared else level * np.array([1 + 0.15 * t, 1.0, 1 - 0.18 * t])
    return Camera(
        infrared=infrared,
        gain=gain,
        background=_scenery(rng, height, width, infrared, values),
        values=values,
        noise=noise * rng.uniform(*style.noise),
        blur=blur * rng.uniform(*style.blur),
        resolution=rng.uniform(0.4, 0.7) if rng.random() < style.lowres else 1.0,
        quality=int(rng.integers(style.jpeg[0], style.jpeg[1] + 1)),
        vignette=rng.uniform(0.0, style.vignette),
        contrast=rng.uniform(*style.contrast),
    )


def _object(rng: np.random.Generator, height: int, width: int, kind: str) -> np.ndarray:
    """Anti-aliased coverage float32 [H, W] of a box, pole, railing, passer-by or figure."""
    ys = np.arange(height, dtype=np.float32)[:, None] + 0.5
    xs = np.arange(width, dtype=np.float32)[None, :] + 0.5
    if kind == "figure":  # a person-like silhouette: head over a body
        cx, cy, size = rng.uniform(0, width), rng.uniform(0.1, 0.6) * height, rng.uniform(0.3, 0.7)
        head = np.hypot(xs - cx, ys - cy) - 0.07 * height * size
        body = np.maximum(
            np.abs(xs - cx) - 0.12 * width * size,
            np.abs(ys - cy - 0.3 * height * size) - 0.25 * height * size,
        )
        return np.clip(0.5 - np.minimum(head, body), 0.0, 1.0)
    if kind == "passer":  # someone walking past close to the camera, entering from a side
        side = rng.integers(2)
        edge = rng.uniform(0.1, 0.35) * width
        distance = (xs - edge) if side == 0 else (width - edge - xs)
        return np.clip(0.5 - distance, 0.0, 1.0) * np.ones_like(ys)
    if kind == "pole":
        x0, w = rng.uniform(0, width), rng.uniform(0.05, 0.15) * width
        return np.clip(0.5 - (np.abs(xs - x0) - w / 2), 0.0, 1.0) * np.ones_like(ys)
    if kind == "railing":  # a bench, car or railing hiding the legs
        y0 = rng.uniform(0.6, 0.85) * height
        return np.clip(0.5 - (y0 - ys), 0.0, 1.0) * np.ones_like(xs)
    x0, y0 = rng.uniform(-0.2, 0.9) * width, rng.uniform(0.0, 0.8) * height
    w, h = rng.uniform(0.1, 0.5) * width, rng.uniform(0.05, 0.3) * height
    box = np.maximum(np.abs(xs - x0 - w / 2) - w / 2, np.abs(ys - y0 - h / 2) - h / 2)
    return np.clip(0.5 - box, 0.0, 1.0)


def _paint(image, coverage, colour) -> np.ndarray:
    return image + coverage[..., None] * (colour.astype(np.float32) - image)


def _texture(rng: np.random.Generator, height: int, width: int, amount: float) -> np.ndarray:
    """float32 [H, W, 1] around 1: smooth blotches of cloth folds and light."""
    grid = rng.standard_normal((6, 4)).astype(np.float32)
    field = ndimage.zoom(grid, (height / 6, width / 4), order=1)
    return (1.0 + amount * field)[..., None]


def _uneven_light(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """float32 [H, W, 1]: light falling on the person from above, below or a side."""
    rows = (np.arange(height, dtype=np.float32) + 0.5) / height - 0.5
    cols = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
    slope_down, slope_across = rng.uniform(-LIGHT_SLOPE, LIGHT_SLOPE, 2) * np.array([1.0, 0.5])
    return np.exp(slope_down * rows[:, None, None] + slope_across * cols[None, :, None]).astype(
        np.float32
    )


def _scene_behind(camera: Camera, rng: np.random.Generator, style: Style, height, width):
    """The scenery behind one image: a crop of the panorama plus this moment's clutter."""
    start = rng.integers(0, camera.background.shape[1] - width + 1)
    scene = camera.background[:, start : start + width]
    for _ in range(rng.integers(style.clutter[0], style.clutter[1] + 1)):
        kind = str(rng.choice(["box", "box", "figure", "pole"]))
        colour = _tone(rng, camera.infrared, camera.values)
        scene = _paint(scene, _object(rng, height, width, kind), colour)
    return scene


def _optics(camera: Camera, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Exposure, fall-off, blur, resolution, tone curve and noise; float32 [H, W, C]."""
    height, width = image.shape[:2]
    image = image * (camera.gain * rng.uniform(0.85, 1.15)).astype(np.float32)
    rows = (np.arange(height, dtype=np.float32) + 0.5) / height - 0.5
    cols = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
    corner = rows[:, None] ** 2 + cols[None, :] ** 2
    falloff = 1.0 - 2.0 * camera.vignette * corner
    if camera.infrared:  # brightest in the middle: the NIR illuminator, thermal lens fall-off
        falloff = falloff * (1.1 - 0.8 * cols**2)[None, :]
    image = image * falloff[..., None]
    blur = camera.blur * rng.uniform(0.7, 1.3)
    image = ndimage.gaussian_filter(image, sigma=(blur, blur, 0))
    if camera.resolution < 1.0:  # recorded small, stored upscaled
        small = ndimage.zoom(image, (camera.resolution, camera.resolution, 1), order=1)
        factor = (height / small.shape[0], width / small.shape[1], 1)
        image = ndimage.zoom(small, factor, order=1)
    image = 0.5 + camera.contrast * (image - 0.5)
    return image + camera.noise * rng.standard_normal(image.shape, dtype=np.float32)


def photograph(
    camera: Camera, layer: np.ndarray, alpha: np.ndarray, rng: np.random.Generator, style: Style
) -> np.ndarray:
    """One camera image of a rendered person: uint8 [H, W, 3] (RGB) or [H, W] (IR).

    Args:
        camera: see make_camera.
        layer: float32 [H, W, 4] premultiplied (r, g, b, ir) of the person (render_person).
        alpha: float32 [H, W] the person's coverage.
        rng: draws everything that changes from image to image.
        style: clutter, occlusion and texture amounts.
    """
    height, width = alpha.shape
    scene = _scene_behind(camera, rng, style, height, width)
    channels = layer[..., 3:] if camera.infrared else layer[..., :3]
    texture = _texture(rng, height, width, rng.uniform(0.0, style.texture))
    lit = channels * _uneven_light(rng, height, width) * texture
    image = lit + (1.0 - alpha[..., None]) * scene
    if rng.random() < style.occlusion:
        kind = str(rng.choice(["pole", "railing", "passer", "figure"]))
        colour = _tone(rng, camera.infrared, (0.05, 0.9))
        image = _paint(image, _object(rng, height, width, kind), colour)
    image = _optics(camera, image, rng)
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return image[..., 0] if camera.infrared else image
