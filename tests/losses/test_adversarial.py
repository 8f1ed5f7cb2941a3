"""TS-GAN losses: GAN terms (vanilla and LSGAN), L1 cycle, teacher-student feature maps."""

import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run

from tfreid.losses import cycle_loss, discriminator_loss, feature_map_loss, generator_loss


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def per_image_mean(values):
    return values.reshape(len(values), -1).mean(axis=1)


def patch_logits(seed, n):
    return np.random.default_rng(seed).normal(scale=2.0, size=(n, 4, 2, 1))


@pytest.mark.parametrize("mode", MODES)
def test_vanilla_terms_match_numpy(mode):
    real, fake = patch_logits(0, 3), patch_logits(1, 5)
    real_term, fake_term = run(mode, discriminator_loss, real, fake, objective="vanilla")
    assert real_term.shape == (3,) and fake_term.shape == (5,)
    np.testing.assert_allclose(real_term, per_image_mean(-np.log(sigmoid(real))), rtol=1e-6)
    np.testing.assert_allclose(fake_term, per_image_mean(-np.log(1 - sigmoid(fake))), rtol=1e-6)
    generator = run(mode, generator_loss, fake, objective="vanilla")
    np.testing.assert_allclose(generator, per_image_mean(-np.log(sigmoid(fake))), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_lsgan_terms_match_numpy(mode):
    real, fake = patch_logits(2, 2), patch_logits(3, 4)
    real_term, fake_term = run(mode, discriminator_loss, real, fake, objective="lsgan")
    np.testing.assert_allclose(real_term, per_image_mean((real - 1.0) ** 2), rtol=1e-6)
    np.testing.assert_allclose(fake_term, per_image_mean(fake**2), rtol=1e-6)
    generator = run(mode, generator_loss, fake, objective="lsgan")
    np.testing.assert_allclose(generator, per_image_mean((fake - 1.0) ** 2), rtol=1e-6)


def test_hand_worked_values():
    """Logit 0 is σ = 1/2 (log 2 either way); image 1's patches 0 and 2 average per image."""
    logits = np.array([[0.0, 0.0], [0.0, 2.0]], "float32")
    real_term, fake_term = discriminator_loss(logits, logits)
    np.testing.assert_allclose(real_term, [np.log(2), (np.log(2) + np.log1p(np.exp(-2))) / 2])
    np.testing.assert_allclose(fake_term, [np.log(2), (np.log(2) + np.log1p(np.exp(2))) / 2])
    np.testing.assert_allclose(generator_loss(logits, "lsgan"), [1.0, 1.0])  # (1 + 1) / 2


def test_one_logit_per_image():
    logits = np.array([-1.0, 3.0], "float32")
    np.testing.assert_allclose(generator_loss(logits), np.log1p(np.exp(-logits)), rtol=1e-6)


def test_vanilla_is_exact_for_extreme_logits():
    logits = np.array([[-1e4], [-100.0], [100.0], [1e4]], "float32")
    real_term, fake_term = discriminator_loss(logits, logits)
    np.testing.assert_allclose(real_term, [1e4, 100.0, 0.0, 0.0], atol=1e-30)
    np.testing.assert_allclose(fake_term, [0.0, 0.0, 100.0, 1e4], atol=1e-30)


def test_generator_term_does_not_saturate():
    """A confidently rejected fake (logit -10) still gets gradient -σ(10) ≈ -1 per patch."""
    logits = tf.constant([[-10.0, -10.0]])
    with tf.GradientTape() as tape:
        tape.watch(logits)
        loss = generator_loss(logits)
    gradient = tape.gradient(loss, logits)
    np.testing.assert_allclose(gradient, [[-sigmoid(10.0) / 2] * 2], rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_cycle_loss_matches_numpy(mode):
    rng = np.random.default_rng(4)
    reconstructed = rng.uniform(-1, 1, size=(3, 4, 2, 3)).astype("float32")
    original = rng.uniform(-1, 1, size=(3, 4, 2, 3)).astype("float32")
    loss = run(mode, cycle_loss, reconstructed, original)
    assert loss.shape == (3,) and loss.dtype == tf.float32
    np.testing.assert_allclose(loss, per_image_mean(np.abs(reconstructed - original)), rtol=1e-6)
    np.testing.assert_allclose(cycle_loss(original, original), np.zeros(3))


@pytest.mark.parametrize("mode", MODES)
def test_feature_map_loss_mean_and_sum(mode):
    rng = np.random.default_rng(5)
    teacher = rng.normal(size=(2, 3, 2, 4)).astype("float32")
    student = rng.normal(size=(2, 3, 2, 4)).astype("float32")
    squared = (student - teacher) ** 2
    mean = run(mode, feature_map_loss, teacher, student, reduction="mean")
    total = run(mode, feature_map_loss, teacher, student)  # the default: Eq. 13-15 as printed
    np.testing.assert_allclose(mean, per_image_mean(squared), rtol=1e-6)
    np.testing.assert_allclose(total, squared.reshape(2, -1).sum(axis=1), rtol=1e-6)
    np.testing.assert_allclose(np.asarray(total) / np.asarray(mean), [24.0, 24.0], rtol=1e-6)


def test_feature_map_loss_trains_the_student_only():
    teacher = tf.constant(np.ones((1, 2, 1, 2)), tf.float32)
    student = tf.constant(np.zeros((1, 2, 1, 2)), tf.float32)
    with tf.GradientTape(persistent=True) as tape:
        tape.watch([teacher, student])
        loss = feature_map_loss(teacher, student, reduction="mean")
    assert tape.gradient(loss, teacher) is None
    np.testing.assert_allclose(tape.gradient(loss, student), np.full((1, 2, 1, 2), -0.5))


def test_half_precision_inputs_give_float32():
    maps = np.ones((2, 3, 3, 2), "float16")
    assert generator_loss(maps).dtype == tf.float32
    assert cycle_loss(maps, maps).dtype == tf.float32
    assert feature_map_loss(maps, maps, reduction="sum").dtype == tf.float32


def test_dynamic_batch_size_in_one_function():
    loss_fn = tf.function(
        lambda logits: discriminator_loss(logits, logits, "vanilla"),
        input_signature=[tf.TensorSpec([None, 4, 2, 1], tf.float32)],
    )
    for n in (1, 3):
        logits = patch_logits(n, n).astype("float32")
        real_term, _ = loss_fn(logits)
        expected = per_image_mean(-np.log(sigmoid(logits)))
        np.testing.assert_allclose(real_term, expected, rtol=1e-6)


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(6)
    a, b = rng.normal(size=(2, 3, 2, 2)), rng.normal(size=(2, 3, 2, 2))  # float64
    teacher = rng.normal(size=(2, 3, 2, 2))  # a fixed target: no gradient flows into it

    def summed(x, y):
        real_term, fake_term = discriminator_loss(x, y)
        return (
            tf.reduce_sum(real_term)
            + tf.reduce_sum(fake_term)
            + tf.reduce_sum(generator_loss(y, "lsgan"))
            + tf.reduce_sum(cycle_loss(x, y))
            + tf.reduce_sum(feature_map_loss(teacher, y, reduction="sum"))
        )

    analytic, numeric = tf.test.compute_gradient(summed, [a, b], delta=1e-6)
    for got, expected in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="objective must be one of .* received 'wgan'"):
        generator_loss(np.zeros((1, 1)), objective="wgan")
    with pytest.raises(ValueError, match="reduction must be one of .* received 'max'"):
        feature_map_loss(np.zeros((1, 2)), np.zeros((1, 2)), reduction="max")
    with pytest.raises(ValueError, match=r"teacher \(1, 4, 2\) and student \(1, 4, 3\)"):
        feature_map_loss(np.zeros((1, 4, 2)), np.zeros((1, 4, 3)))
    with pytest.raises(ValueError, match="reconstructed and original must have the same shape"):
        cycle_loss(np.zeros((2, 3)), np.zeros((2, 3, 1)))
