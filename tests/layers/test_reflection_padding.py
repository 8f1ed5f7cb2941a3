"""ReflectionPadding2D: PyTorch's ReflectionPad2d (numpy's "reflect", border not repeated)."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers.reflection_padding import ReflectionPadding2D


def test_layer_harness():
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 3)).astype("float32")
    run_layer_test(
        ReflectionPadding2D,
        init_kwargs={"padding": 2},
        input_data=x,
        expected_output_shape=(2, 9, 8, 3),
    )


def test_by_hand():
    """Row [1, 2, 3] padded by 1 is [2, 1, 2, 3, 2]; the rows mirror the same way."""
    x = np.array([[1, 2, 3], [4, 5, 6]], "float32")[None, :, :, None]
    expected = np.array(
        [[5, 4, 5, 6, 5], [2, 1, 2, 3, 2], [5, 4, 5, 6, 5], [2, 1, 2, 3, 2]], "float32"
    )
    np.testing.assert_array_equal(ReflectionPadding2D(1)(x)[0, :, :, 0], expected)


@pytest.mark.parametrize("padding, height, width", [(1, 2, 2), (3, 7, 4), (3, 32, 16)])
def test_matches_numpy(padding, height, width):
    x = np.random.default_rng(height).normal(size=(2, height, width, 3)).astype("float32")
    expected = np.pad(x, [(0, 0), (padding, padding), (padding, padding), (0, 0)], mode="reflect")
    np.testing.assert_array_equal(ReflectionPadding2D(padding)(x), expected)


def test_dynamic_size_in_one_function():
    pad = tf.function(ReflectionPadding2D(3), input_signature=[tf.TensorSpec([None] * 4)])
    for height, width in ((8, 4), (5, 9)):
        x = np.random.default_rng(height).normal(size=(1, height, width, 2)).astype("float32")
        expected = np.pad(x, [(0, 0), (3, 3), (3, 3), (0, 0)], mode="reflect")
        np.testing.assert_array_equal(pad(x), expected)


def test_gradient_sums_the_mirrored_copies():
    """d sum(pad(x)) / dx counts how often each pixel appears: 1 + its mirror images."""
    x = tf.zeros((1, 3, 3, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        total = tf.reduce_sum(ReflectionPadding2D(1)(x))
    # Per axis, padding 1 copies index 1 twice (once per side): counts [1, 3, 1].
    counts = np.array([1.0, 3.0, 1.0])
    np.testing.assert_array_equal(tape.gradient(total, x)[0, :, :, 0], np.outer(counts, counts))


@pytest.mark.parametrize("padding", [0, -1, 1.5, True, "1"])
def test_bad_padding_is_named(padding):
    with pytest.raises(ValueError, match="padding to be an int >= 1"):
        ReflectionPadding2D(padding)


def test_too_small_input_is_named():
    with pytest.raises(ValueError, match=r"needs H and W > 3"):
        ReflectionPadding2D(3)(np.zeros((1, 3, 8, 1), "float32"))
    with pytest.raises(ValueError, match=r"\[B, H, W, C\]"):
        ReflectionPadding2D(1)(np.zeros((4, 3), "float32"))
