"""DerivativeGenerator: Eq. 1 of the base-derivative framework, its gray start and gradients."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers import DerivativeGenerator

# The ImageNet statistics the pipeline normalises with.
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def normalise(pixels):
    return ((pixels / 255.0 - MEAN) / STD).astype("float32")


def random_weights(seed):
    rng = np.random.default_rng(seed)
    return [
        rng.normal(size=(3, 1)).astype("float32"),
        rng.normal(size=(1,)).astype("float32"),
        rng.normal(size=(1, 3)).astype("float32"),
        rng.normal(size=(3,)).astype("float32"),
    ]


def numpy_generator(rgb, ir, weights):
    encoder_kernel, encoder_bias, generator_kernel, generator_bias = weights
    encoded = np.maximum(rgb @ encoder_kernel + encoder_bias, 0.0)
    ir_channel = ir.mean(axis=-1, keepdims=True)
    rgb_derived = encoded @ generator_kernel + generator_bias
    return rgb_derived, ir_channel @ generator_kernel + generator_bias


def built_generator(rgb, ir, weights=None):
    layer = DerivativeGenerator()
    layer([rgb, ir])
    if weights is not None:
        layer.set_weights(weights)
    return layer


def test_layer_harness():
    rng = np.random.default_rng(0)
    rgb = rng.normal(size=(2, 4, 3, 3)).astype("float32")
    ir = rng.normal(size=(2, 2, 5, 1)).astype("float32")  # Keras fit needs equal batch sizes
    run_layer_test(
        DerivativeGenerator,
        init_kwargs={},
        input_data=[rgb, ir],
        expected_output_shape=[(2, 4, 3, 3), (2, 2, 5, 3)],
        expected_num_trainable_weights=4,
    )


def test_full_size_shapes():
    layer = DerivativeGenerator()
    rgb_derived, ir_derived = layer.compute_output_shape([(None, 288, 144, 3), (None, 288, 144, 1)])
    assert rgb_derived == (None, 288, 144, 3) and ir_derived == (None, 288, 144, 3)
    layer.build([(None, 288, 144, 3), (None, 288, 144, 3)])
    assert layer.count_params() == 3 + 1 + 3 + 3


@pytest.mark.parametrize("ir_channels", [3, 1])
def test_output_matches_numpy(ir_channels):
    rng = np.random.default_rng(1)
    rgb = rng.normal(size=(2, 3, 2, 3)).astype("float32")
    ir = rng.normal(size=(2, 3, 2, ir_channels)).astype("float32")
    weights = random_weights(2)
    layer = built_generator(rgb, ir, weights)
    rgb_derived, ir_derived = layer([rgb, ir])
    expected_rgb, expected_ir = numpy_generator(rgb, ir, weights)
    np.testing.assert_allclose(rgb_derived, expected_rgb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(ir_derived, expected_ir, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.derive_rgb(rgb), expected_rgb, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(layer.derive_ir(ir), expected_ir, rtol=1e-5, atol=1e-6)
    assert np.any(expected_rgb == weights[3])  # the ReLU is active somewhere


def test_initial_derivatives_are_gray_images_of_the_normalised_input():
    """X_DV = max(0, mean_c X_V) and X_DI = mean_c X_I, the same in all three channels."""
    rng = np.random.default_rng(3)
    rgb = normalise(rng.integers(0, 256, size=(2, 5, 4, 3)).astype("float64"))
    ir_pixels = rng.integers(0, 256, size=(2, 5, 4, 1)).astype("float64")
    ir = normalise(np.repeat(ir_pixels, 3, axis=-1))  # SYSU's replicated IR, normalised
    layer = built_generator(rgb, ir)
    rgb_derived, ir_derived = (np.asarray(x) for x in layer([rgb, ir]))

    rgb_gray = np.maximum(rgb.mean(axis=-1, keepdims=True), 0.0)
    np.testing.assert_allclose(rgb_derived, np.repeat(rgb_gray, 3, axis=-1), rtol=1e-6, atol=1e-6)
    ir_gray = ir.mean(axis=-1, keepdims=True)
    np.testing.assert_allclose(ir_derived, np.repeat(ir_gray, 3, axis=-1), rtol=1e-6, atol=1e-6)
    assert 0.2 < np.mean(rgb_derived == 0.0) < 0.8  # the ReLU clips the darker pixels

    # mean_c of the normalised channels = Σ_c x_c / (765 σ_c) - mean_c(μ_c / σ_c)
    expected = ir_pixels[..., 0] * np.sum(1 / (3 * 255 * STD)) - np.mean(MEAN / STD)
    np.testing.assert_allclose(ir_derived[..., 0], expected, rtol=1e-5, atol=1e-5)


def test_both_paths_start_alike_on_a_gray_pixel():
    """A gray RGB image (v, v, v) and the same replicated IR image: E_V's pre-activation at
    initialisation equals the IR path's one channel, so X_DV = max(0, X_DI)."""
    pixels = np.repeat(np.linspace(0, 255, 12).reshape(1, 3, 4, 1), 3, axis=-1)
    image = normalise(pixels)
    layer = built_generator(image, image)
    rgb_derived, ir_derived = layer([image, image])
    np.testing.assert_allclose(rgb_derived, np.maximum(ir_derived, 0.0), rtol=1e-6, atol=1e-6)
    first_channel = built_generator(image, image[..., :1])([image, image[..., :1]])[1]
    assert np.abs(np.asarray(first_channel) - np.asarray(ir_derived)).max() > 0.05


def test_gradients_reach_the_encoder_and_the_shared_generator():
    """For L = Σ u·X_DV + Σ w·X_DI, with h = E_V(X_V) and z its pre-activation:
    dL/dG_S kernel = Σ h u + Σ mean_c(X_I) w, dL/dG_S bias = Σ u + Σ w,
    dL/dz = (u · G_S kernel) [z > 0], dL/dE_V kernel = Σ X_V dL/dz, dL/dE_V bias = Σ dL/dz."""
    rng = np.random.default_rng(4)
    rgb = rng.normal(size=(2, 3, 2, 3)).astype("float32")
    ir = rng.normal(size=(2, 3, 2, 3)).astype("float32")
    u = rng.normal(size=rgb.shape).astype("float32")
    w = rng.normal(size=ir.shape).astype("float32")
    weights = random_weights(5)
    layer = built_generator(rgb, ir, weights)
    with tf.GradientTape() as tape:
        rgb_derived, ir_derived = layer([rgb, ir])
        loss = tf.reduce_sum(u * rgb_derived) + tf.reduce_sum(w * ir_derived)
    variables = [layer.encoder_kernel, layer.encoder_bias]
    variables += [layer.generator_kernel, layer.generator_bias]
    gradients = tape.gradient(loss, variables)

    encoder_kernel, encoder_bias, generator_kernel, _ = weights
    z = rgb @ encoder_kernel + encoder_bias
    h = np.maximum(z, 0.0)
    ir_channel = ir.mean(axis=-1, keepdims=True)
    dz = (u @ generator_kernel.T) * (z > 0)
    expected = [
        np.einsum("bhwc,bhwd->cd", rgb, dz),
        dz.sum(axis=(0, 1, 2)),
        np.einsum("bhwc,bhwd->cd", h, u) + np.einsum("bhwc,bhwd->cd", ir_channel, w),
        u.sum(axis=(0, 1, 2)) + w.sum(axis=(0, 1, 2)),
    ]
    for got, want in zip(gradients, expected, strict=True):
        assert np.abs(want).max() > 0.1
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_the_ir_path_uses_only_the_shared_generator():
    image = np.random.default_rng(6).normal(size=(1, 2, 2, 3)).astype("float32")
    layer = built_generator(image, image)
    with tf.GradientTape() as tape:
        loss = tf.reduce_sum(layer([image, image])[1])
    encoder_kernel, encoder_bias, generator_kernel, generator_bias = tape.gradient(
        loss, layer.trainable_weights
    )
    assert encoder_kernel is None and encoder_bias is None
    assert generator_kernel is not None and generator_bias is not None


def test_bad_inputs_are_named():
    image = np.zeros((1, 2, 2, 3), "float32")
    with pytest.raises(ValueError, match=r"\[rgb_images, ir_images\] \(a list of 2\)"):
        DerivativeGenerator()(image)
    with pytest.raises(ValueError, match=r"received \(1, 2, 2, 1\) and \(1, 2, 2, 3\)"):
        DerivativeGenerator()([image[..., :1], image])
    with pytest.raises(ValueError, match=r"received \(1, 2, 2, 3\) and \(1, 2, 2, 2\)"):
        DerivativeGenerator()([image, image[..., :2]])
