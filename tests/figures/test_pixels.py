"""Normalised images back to pixels (tfreid/figures/pixels.py)."""

import numpy as np
import pytest

from tfreid.figures.pixels import to_pixels
from tfreid.figures.translations import GAN_MEAN, GAN_STD

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])


def test_pixels_invert_the_normalisation():
    pixels = np.random.default_rng(0).integers(0, 256, size=(2, 5, 4, 3))
    back, clipped = to_pixels((pixels / 255.0 - MEAN) / STD, MEAN, STD)
    np.testing.assert_array_equal(back, pixels)
    assert clipped == 0.0
    back, clipped = to_pixels(np.array([[-5.0, 0.0, 5.0]]), MEAN, STD)
    assert back.tolist() == [[0, 116, 255]] and clipped == pytest.approx(2 / 3)


def test_the_generators_range_maps_onto_every_pixel_value():
    values = np.arange(256) / 127.5 - 1.0  # [-1, 1] in steps of one pixel
    pixels, clipped = to_pixels(values, GAN_MEAN, GAN_STD)
    np.testing.assert_array_equal(pixels, np.arange(256))
    assert clipped == 0.0
    pixels, clipped = to_pixels(np.array([-1.5, 0.0, 1.5]), GAN_MEAN, GAN_STD)
    assert pixels.tolist() == [0, 128, 255] and clipped == pytest.approx(2 / 3)
