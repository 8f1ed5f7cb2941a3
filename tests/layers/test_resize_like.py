"""ResizeLike: bilinear resizing to another tensor's grid, as PyTorch's align_corners=False."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers.resize_like import ResizeLike


def numpy_bilinear_axis(x, size, axis):
    """PyTorch's rule along one axis: source s = (o + 0.5) in/out - 0.5, clamped to [0, in-1]."""
    length = x.shape[axis]
    source = np.maximum((np.arange(size) + 0.5) * length / size - 0.5, 0.0)
    low = np.floor(source).astype(int)
    high = np.minimum(low + 1, length - 1)
    weight_shape = [1] * x.ndim
    weight_shape[axis] = size
    weight = (source - low).reshape(weight_shape)
    return (1 - weight) * np.take(x, low, axis=axis) + weight * np.take(x, high, axis=axis)


def numpy_resize(x, height, width):
    return numpy_bilinear_axis(numpy_bilinear_axis(x, height, 1), width, 2)


def test_layer_harness():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 2, 4)).astype("float32")
    reference = rng.normal(size=(2, 6, 4, 5)).astype("float32")
    run_layer_test(
        ResizeLike,
        init_kwargs={},
        input_data=[x, reference],
        expected_output_shape=(2, 6, 4, 4),
    )


def test_upsampling_by_hand():
    x = np.array([0.0, 1.0], "float32").reshape(1, 1, 2, 1)
    reference = np.zeros((1, 1, 4, 7), "int32")
    np.testing.assert_allclose(
        ResizeLike()([x, reference])[0, 0, :, 0], [0.0, 0.25, 0.75, 1.0], atol=1e-7
    )


@pytest.mark.parametrize("source, target", [((4, 2), (8, 4)), ((3, 2), (7, 5)), ((8, 4), (3, 3))])
def test_matches_numpy(source, target):
    rng = np.random.default_rng(sum(source))
    x = rng.normal(size=(2, *source, 3)).astype("float32")
    resized = ResizeLike()([x, np.zeros((2, *target, 1), "float32")])
    np.testing.assert_allclose(resized, numpy_resize(x, *target), rtol=1e-5, atol=1e-6)


def test_size_read_when_called():
    resize = tf.function(
        ResizeLike(), input_signature=[[tf.TensorSpec([None] * 4), tf.TensorSpec([None] * 4)]]
    )
    x = np.random.default_rng(1).normal(size=(1, 2, 2, 3)).astype("float32")
    for target in ((4, 4), (3, 5)):
        resized = resize([x, np.zeros((1, *target, 2), "float32")])
        np.testing.assert_allclose(resized, numpy_resize(x, *target), rtol=1e-5, atol=1e-6)


def test_returns_the_compute_dtype():
    layer = ResizeLike(dtype="mixed_float16")
    resized = layer([np.ones((1, 2, 2, 1), "float32"), np.zeros((1, 4, 4, 1), "float32")])
    assert resized.dtype == tf.float16


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"\[x, reference\]"):
        ResizeLike()(np.zeros((1, 2, 2, 1), "float32"))
    with pytest.raises(ValueError, match=r"\[x, reference\]"):
        ResizeLike()([np.zeros((1, 2, 1), "float32"), np.zeros((1, 4, 4, 1), "float32")])
