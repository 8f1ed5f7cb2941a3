"""StripePooling: PCB's horizontal stripes, average-pooled (IJCV 2020, Sec. 6.2), or max-pooled
(MGN's part branches)."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers.stripe_pooling import StripePooling


def numpy_stripes(x, stripes, reduce=np.mean):
    """Loops over stripes; rows [floor(i H / S), ceil((i + 1) H / S)) of every stripe i."""
    height = x.shape[1]
    pooled = []
    for i in range(stripes):
        start = (i * height) // stripes
        end = -((-(i + 1) * height) // stripes)
        pooled.append(reduce(x[:, start:end], axis=(1, 2)))
    return np.stack(pooled, axis=1)


def test_layer_harness():
    x = np.random.default_rng(0).normal(size=(2, 12, 4, 5)).astype("float32")
    run_layer_test(
        StripePooling,
        init_kwargs={"stripes": 6},
        input_data=x,
        expected_output_shape=(2, 6, 5),
    )


def test_equal_stripes_by_hand():
    """24 x 8 map (384 x 128 input, last stride 1): stripe i is rows 4i..4i+3."""
    x = np.zeros((1, 24, 8, 2), "float32")
    x[0, :, :, 0] = np.arange(24)[:, None]  # channel 0 holds the row number
    x[0, :, :, 1] = np.arange(8)[None, :]  # channel 1 the column number
    pooled = StripePooling(6)(x).numpy()
    np.testing.assert_allclose(pooled[0, :, 0], [4 * i + 1.5 for i in range(6)])
    np.testing.assert_allclose(pooled[0, :, 1], [3.5] * 6)


@pytest.mark.parametrize("height, stripes", [(12, 6), (7, 3), (4, 6), (1, 6), (5, 1)])
def test_matches_numpy(height, stripes):
    x = np.random.default_rng(height).normal(size=(3, height, 2, 4)).astype("float32")
    np.testing.assert_allclose(
        StripePooling(stripes)(x), numpy_stripes(x, stripes), rtol=1e-5, atol=1e-6
    )


def test_dynamic_height_in_one_function():
    layer = StripePooling(6)
    pool = tf.function(layer, input_signature=[tf.TensorSpec([None, None, None, 3])])
    for height in (24, 9):
        x = np.random.default_rng(height).normal(size=(2, height, 3, 3)).astype("float32")
        np.testing.assert_allclose(pool(x), numpy_stripes(x, 6), rtol=1e-5, atol=1e-6)


def test_gradient_spreads_evenly_over_a_stripe():
    x = tf.random.normal((1, 12, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        pooled = StripePooling(3)(x)
        target = pooled[0, 1, 0]  # rows 4-7
    gradient = tape.gradient(target, x).numpy()[0, :, :, 0]
    expected = np.zeros((12, 2))
    expected[4:8] = 1 / 8
    np.testing.assert_allclose(gradient, expected, rtol=1e-6)


def test_max_layer_harness():
    x = np.random.default_rng(1).normal(size=(2, 7, 3, 4)).astype("float32")
    run_layer_test(
        StripePooling,
        init_kwargs={"stripes": 3, "pooling": "max"},
        input_data=x,
        expected_output_shape=(2, 3, 4),
    )


def test_pytorch_adaptive_bins_overlap_by_hand():
    """14 rows in 6 stripes (PCB at 224 x 224, last stride 1): PyTorch's adaptive bins are
    rows [0,3), [2,5), [4,7), [7,10), [9,12), [11,14); rows 2, 4, 9, 11 belong to two stripes."""
    x = np.zeros((1, 14, 1, 1), "float32")
    x[0, :, 0, 0] = np.arange(14)
    np.testing.assert_allclose(StripePooling(6)(x)[0, :, 0], [1, 3, 5, 8, 10, 12])
    np.testing.assert_allclose(StripePooling(6, pooling="max")(x)[0, :, 0], [2, 4, 6, 9, 11, 13])


@pytest.mark.parametrize("height, stripes", [(24, 2), (24, 3), (7, 3), (4, 3), (1, 2)])
def test_max_matches_numpy(height, stripes):
    """MGN at 384 x 128: the part branches' 24 x 8 map in 2 stripes of 12 rows and 3 of 8."""
    x = np.random.default_rng(height).normal(size=(2, height, 3, 4)).astype("float32")
    expected = numpy_stripes(x, stripes, reduce=np.max)
    np.testing.assert_allclose(StripePooling(stripes, pooling="max")(x), expected, rtol=1e-6)


def test_max_gradient_reaches_only_the_maximum():
    x = tf.constant(np.arange(8, dtype="float32").reshape(1, 4, 2, 1))
    with tf.GradientTape() as tape:
        tape.watch(x)
        target = StripePooling(2, pooling="max")(x)[0, 0, 0]  # rows 0-1: maximum 3 at (1, 1)
    gradient = tape.gradient(target, x).numpy()[0, :, :, 0]
    expected = np.zeros((4, 2))
    expected[1, 1] = 1.0
    np.testing.assert_array_equal(gradient, expected)


def test_unknown_pooling_is_named():
    with pytest.raises(ValueError, match="pooling.*'sum'"):
        StripePooling(2, pooling="sum")


@pytest.mark.parametrize("stripes", [0, -1, 2.5, True])
def test_bad_stripes_are_named(stripes):
    with pytest.raises(ValueError, match=f"stripes.*{stripes!r}"):
        StripePooling(stripes)


def test_rank_other_than_four_is_an_error():
    with pytest.raises(ValueError, match=r"\[B, H, W, C\].*\(2, 5\)"):
        StripePooling(2)(np.zeros((2, 5), "float32"))
