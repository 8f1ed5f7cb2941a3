"""Normalised images back to the pixels a picture shows."""

from __future__ import annotations

import numpy as np


def to_pixels(normalised, mean, std) -> tuple[np.ndarray, float]:
    """Inverse of the normalisation (x / 255 - mean) / std, rounded and clipped to uint8.

    Args:
        normalised: float [..., C] images.
        mean: per-channel means [C] (or one number), in [0, 1] units.
        std: per-channel standard deviations [C] (or one number).

    Returns:
        (uint8 [..., C] pixels, the share of values that fell outside [0, 255] and were
        clipped), computed in float64.
    """
    pixels = 255.0 * (np.asarray(normalised, np.float64) * np.asarray(std) + np.asarray(mean))
    clipped = float(np.mean((pixels < 0.0) | (pixels > 255.0)))
    return np.round(np.clip(pixels, 0.0, 255.0)).astype(np.uint8), clipped
