"""The matrix resize of the ONNX / LiteRT exports against TensorFlow's antialiased resize."""

import numpy as np
import pytest
import tensorflow as tf

from tfreid.exporting.resize import matrix_resize, resize_weights


@pytest.mark.parametrize(
    "source,target",
    [((32, 16), (32, 16)), ((64, 32), (32, 16)), ((100, 37), (32, 16)), ((17, 9), (96, 48)),
     ((1, 1), (32, 16)), ((288, 144), (96, 48)), ((33, 17), (288, 144)), ((500, 200), (96, 48)),
     ((100, 37), (96, 48))],
)  # fmt: skip
def test_matches_tensorflows_antialiased_bilinear_resize(source, target):
    """Shrinking (the antialiasing widens the kernel), enlarging, the same size, a 1-pixel image
    and sizes that do not divide: float32 rounding apart, TensorFlow's ScaleAndTranslate."""
    images = np.random.default_rng(0).integers(0, 256, (2, *source, 3)).astype(np.uint8)
    expected = tf.image.resize(tf.cast(images, tf.float32), target, "bilinear", antialias=True)
    got = matrix_resize(images, *target)
    assert got.shape == (2, *target, 3)
    # Values are 0-255: 0.005 is far below one grey level, and far above float32 rounding of
    # the weights (a wrong kernel width or centre is off by whole grey levels).
    np.testing.assert_allclose(got.numpy(), expected.numpy(), atol=5e-3)


def test_weights_are_the_triangle_kernel_normalised():
    """Halving: each output averages a 4-pixel window with weights 1/8, 3/8, 3/8, 1/8 (the
    triangle of radius 2 sampled at pixel centres), renormalised where the image edge cuts it."""
    weights = resize_weights(tf.constant(8), 4).numpy()
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(weights[1, 1:5], [1 / 8, 3 / 8, 3 / 8, 1 / 8], rtol=1e-6)
    np.testing.assert_allclose(weights[0, :3], np.array([3, 3, 1]) / 7, rtol=1e-6)
