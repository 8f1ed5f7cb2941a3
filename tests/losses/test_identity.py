"""Identity (softmax cross-entropy) loss with label smoothing."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run

from tfreid.losses import identity_loss


def numpy_identity_loss(labels, logits, epsilon):
    num_classes = logits.shape[1]
    target = (1.0 - epsilon) * np.eye(num_classes)[labels] + epsilon / num_classes
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -(target * log_probs).sum(axis=1)


@pytest.mark.parametrize("mode", MODES)
def test_perfect_and_all_wrong_batches(mode):
    """Logit 30 on one class, 0 on the other 3: -log p = ~0 on it, ~30 elsewhere."""
    logits = np.array([[30.0, 0, 0, 0], [0, 30.0, 0, 0]], "float32")
    np.testing.assert_allclose(
        run(mode, identity_loss, np.array([0, 1]), logits), [0.0, 0.0], atol=1e-6
    )
    np.testing.assert_allclose(
        run(mode, identity_loss, np.array([2, 3]), logits), [30.0, 30.0], rtol=1e-6
    )
    # Smoothed, perfect: (1 - ε)·0 + ε·(0 + 30 + 30 + 30) / 4.
    smoothed = run(mode, identity_loss, np.array([0, 1]), logits, label_smoothing=0.1)
    np.testing.assert_allclose(smoothed, [0.1 * 90 / 4] * 2, rtol=1e-5)


def test_uniform_logits_give_log_c_for_any_smoothing():
    logits = np.zeros((3, 5), "float32")
    for epsilon in (0.0, 0.1, 1.0):
        loss = identity_loss(np.array([0, 2, 4]), logits, label_smoothing=epsilon)
        np.testing.assert_allclose(loss, np.full(3, np.log(5.0)), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("epsilon", [0.0, 0.1])
def test_random_batch_matches_numpy_and_keras(mode, epsilon):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 7, size=10)
    logits = (3 * rng.normal(size=(10, 7))).astype("float32")
    loss = run(mode, identity_loss, labels, logits, label_smoothing=epsilon)
    assert loss.shape == (10,) and loss.dtype == tf.float32
    np.testing.assert_allclose(loss, numpy_identity_loss(labels, logits, epsilon), rtol=1e-5)
    keras_loss = keras.losses.categorical_crossentropy(
        np.eye(7)[labels], logits, from_logits=True, label_smoothing=epsilon
    )
    np.testing.assert_allclose(loss, keras_loss, rtol=1e-5)


def test_half_precision_logits_give_float32():
    logits = np.zeros((2, 3), "float16")
    assert identity_loss(np.array([0, 1]), logits).dtype == tf.float32


def test_gradient_is_softmax_minus_target():
    rng = np.random.default_rng(1)
    labels = np.array([1, 0, 3])
    logits = rng.normal(size=(3, 4))  # float64

    def summed(x):
        return tf.reduce_sum(identity_loss(labels, x, label_smoothing=0.2))

    analytic, numeric = tf.test.compute_gradient(summed, [logits], delta=1e-6)
    np.testing.assert_allclose(analytic[0], numeric[0], rtol=1e-6, atol=1e-8)
    probabilities = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    target = 0.8 * np.eye(4)[labels] + 0.2 / 4
    gradient = analytic[0].reshape(logits.shape)  # the Jacobian of a scalar is [1, N·C]
    np.testing.assert_allclose(gradient, probabilities - target, rtol=1e-6, atol=1e-8)


def test_bad_label_smoothing_is_named():
    with pytest.raises(ValueError, match="label_smoothing.*1.5"):
        identity_loss(np.array([0]), np.zeros((1, 2), "float32"), label_smoothing=1.5)


def test_several_heads_give_one_loss_per_sample_and_head():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 5, size=4)
    logits = rng.normal(size=(4, 3, 5)).astype("float32")
    loss = identity_loss(labels, logits, label_smoothing=0.1)
    assert loss.shape == (4, 3)
    for head in range(3):
        expected = numpy_identity_loss(labels, logits[:, head], 0.1)
        np.testing.assert_allclose(loss[:, head], expected, rtol=1e-5)
