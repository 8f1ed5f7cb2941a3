"""GroupedConv2D: Keras's grouped Conv2D, one plain convolution per group."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers.grouped_conv import GroupedConv2D


def numpy_grouped_conv(x, kernel, groups, stride):
    """Valid cross-correlation, loops over output positions and groups; x [B, H, W, C]."""
    kh, kw, per_group, filters = kernel.shape
    out_per_group = filters // groups
    heights = (x.shape[1] - kh) // stride + 1
    widths = (x.shape[2] - kw) // stride + 1
    y = np.zeros((x.shape[0], heights, widths, filters))
    for g in range(groups):
        inputs = x[..., g * per_group : (g + 1) * per_group]
        weights = kernel[..., g * out_per_group : (g + 1) * out_per_group]
        for i in range(heights):
            for j in range(widths):
                window = inputs[:, i * stride : i * stride + kh, j * stride : j * stride + kw]
                y[:, i, j, g * out_per_group : (g + 1) * out_per_group] = np.einsum(
                    "bhwc,hwcf->bf", window, weights
                )
    return y


def test_layer_harness():
    x = np.random.default_rng(0).normal(size=(2, 5, 4, 8)).astype("float32")
    run_layer_test(
        GroupedConv2D,
        init_kwargs={"filters": 4, "kernel_size": 3, "groups": 2, "padding": "same"},
        input_data=x,
        expected_output_shape=(2, 5, 4, 4),
        expected_num_trainable_weights=2,
    )


@pytest.mark.parametrize("groups, stride", [(4, 1), (4, 2), (1, 1)])
def test_matches_numpy_and_keras_conv2d(groups, stride):
    rng = np.random.default_rng(groups + stride)
    x = rng.normal(size=(2, 7, 6, 8))
    layer = GroupedConv2D(8, 3, strides=stride, groups=groups, use_bias=False, dtype="float64")
    y = layer(x).numpy()
    np.testing.assert_allclose(
        y, numpy_grouped_conv(x, layer.kernel.numpy(), groups, stride), rtol=1e-10
    )
    reference = keras.layers.Conv2D(
        8, 3, strides=stride, groups=groups, use_bias=False, dtype="float64"
    )
    reference.build(x.shape)
    reference.set_weights(layer.get_weights())  # the same kernel layout
    np.testing.assert_allclose(y, reference(x).numpy(), rtol=1e-10)


def test_float64_gradient_matches_the_numpy_reference():
    """Plain per-group convolutions differentiate on CPU in float64, where TensorFlow's own
    grouped kernel has no gradient."""
    rng = np.random.default_rng(3)
    x = tf.constant(rng.normal(size=(1, 4, 4, 4)))
    layer = GroupedConv2D(4, 3, groups=2, use_bias=False, dtype="float64")
    target = rng.normal(size=(1, 2, 2, 4))
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer(x) * target)
    gradient = tape.gradient(loss, layer.kernel).numpy()
    # The loss is linear in the kernel: its gradient is the reference's response to a
    # one-hot kernel, entry by entry.
    expected = np.zeros_like(gradient)
    for index in np.ndindex(*gradient.shape):
        unit = np.zeros_like(gradient)
        unit[index] = 1.0
        expected[index] = (numpy_grouped_conv(x.numpy(), unit, 2, 1) * target).sum()
    np.testing.assert_allclose(gradient, expected, rtol=1e-10)


def test_channels_first_is_refused():
    with pytest.raises(ValueError, match="channels_last.*'channels_first'"):
        GroupedConv2D(4, 3, groups=2, data_format="channels_first")
