"""Garment patterns: where a garment shows its second tone.

A pattern lives on the garment's surface, not on the image: x is the angle around the body in
quarter turns (0 at the front, +-1 at the sides, +-2 at the back), y runs down the garment (0 at
its top, 1 at its hem). So a chest print turns away in a side view and is gone from behind,
stripes keep their rows in every view, and a person turning round mirrors a split colour.
"""

from __future__ import annotations

import numpy as np

from tfreid.data.styles import (
    BAND,
    CAMO,
    CHECKS,
    DIAGONAL,
    DOTS,
    H_STRIPES,
    OPEN,
    PLAID,
    PRINT,
    SPLIT,
    V_STRIPES,
    YOKE,
    ZIGZAG,
)

REPEATING = (H_STRIPES, V_STRIPES, DIAGONAL, CHECKS, DOTS, ZIGZAG, CAMO, PLAID)
_SIZES = {YOKE: (0.3, 0.55), BAND: (0.2, 0.75), OPEN: (0.15, 0.45), PRINT: (0.3, 0.5)}


def draw_pattern(rng: np.random.Generator, kinds: dict[int, float]) -> np.ndarray:
    """float [4]: (kind, cycles, size or position, phase or shape) of one garment's pattern."""
    keys = sorted(kinds)
    weights = np.array([kinds[k] for k in keys], dtype=np.float64)
    kind = keys[rng.choice(len(keys), p=weights / weights.sum())]
    cycles = rng.choice([1.5, 2.0, 2.5, 3.0, 3.5, 4.0]) if kind in REPEATING else 0.0
    size = rng.uniform(*_SIZES.get(kind, (0.3, 0.6)))
    shape = rng.integers(3) if kind == PRINT else rng.uniform(0, 1)
    return np.array([kind, cycles, size, shape])


def _stripes(t, cycles, duty, phase):
    """Positive on a `duty` share of every cycle of `t`."""
    return np.cos(2 * np.pi * (cycles * t + phase)) - np.cos(np.pi * duty)


def _front(x, value):
    """`value` on the front of the body only: nothing of it past the sides."""
    return np.where(np.abs(x) < 1.0, value, -10.0)


def _repeating(kind, cycles, size, extra, x, y):
    """Stripes, checks, dots, zigzags, camouflage and plaid, all round the garment."""
    across = 0.35 * x  # a quarter turn is about a third of the front's height
    if kind == H_STRIPES:
        return 3.0 * _stripes(y, cycles, size, extra)
    if kind == V_STRIPES:
        return 3.0 * _stripes(across, cycles, size, extra)
    if kind == DIAGONAL:
        return 3.0 * _stripes(y + (0.4 if extra > 0.5 else -0.4) * x, cycles, size, 0.0)
    if kind == CHECKS:
        return 6.0 * _stripes(y, cycles, 0.5, extra) * _stripes(across, cycles, 0.5, 0.0)
    if kind == DOTS:  # a disc in every cell of a grid
        du = (cycles * across + extra) % 1.0 - 0.5
        dv = (cycles * y + 0.5 * extra) % 1.0 - 0.5
        return 8.0 * (0.8 * size - np.hypot(du, dv) * 2.0)
    if kind == ZIGZAG:  # horizontal stripes bent into a zigzag across the body
        bend = 0.12 * np.abs((3.0 * across + extra) % 2.0 - 1.0)
        return 3.0 * _stripes(y + bend, cycles, size, extra)
    if kind == CAMO:  # blobs from three crossing waves
        waves = (
            np.sin(2 * np.pi * (cycles * y + 1.3 * extra))
            + np.sin(2 * np.pi * (0.8 * cycles * across + 2.1 * extra))
            + np.sin(2 * np.pi * (0.6 * cycles * (across + y) + 3.7 * extra))
        )
        return 2.0 * (waves - 1.5 * (size - 0.45))
    # PLAID: thin lines both ways
    lines = np.maximum(_stripes(y, cycles, 0.2, extra), _stripes(across, cycles, 0.2, 0.0))
    return 4.0 * lines


def pattern_value(pattern: np.ndarray, x, y, aspect: float):
    """Where a garment shows its second tone: positive inside, about unit slope per pixel.

    Args:
        pattern: float [4] from `draw_pattern`.
        x: surface angle in quarter turns (see the module docstring); y: down the garment.
        aspect: the garment's height over its half-width (keeps prints round).

    Returns:
        An array broadcastable with x and y, or None for a plain garment.
    """
    kind, cycles, size, extra = pattern
    kind = int(kind)
    if kind in REPEATING:
        return _repeating(kind, cycles, size, extra, x, y)
    if kind == YOKE:
        return 20.0 * (size - y)
    if kind == BAND:
        return 20.0 * (0.06 + 0.08 * extra - np.abs(y - size))
    if kind == OPEN:  # an open jacket shows the shirt down the front
        return _front(x, 10.0 * (0.6 * size - np.abs(x)))
    if kind == PRINT:  # a disc, diamond or square on the chest
        dx, dy = np.abs(x), np.abs(y - 0.3) * aspect
        norm = {0: np.hypot(dx, dy), 1: dx + dy, 2: np.maximum(dx, dy)}[int(extra)]
        return _front(x, 10.0 * (0.9 * size - norm))
    if kind == SPLIT:  # one side of the body in the second tone
        return 10.0 * np.sin(np.pi / 2 * x) * (1.0 if extra > 0.5 else -1.0)
    return None
