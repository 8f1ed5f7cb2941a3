"""Centre loss (Wen et al. 2016, Eq. 2) and the BoT step it reproduces."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run

from tfreid.layers import IdentityCentres
from tfreid.losses import centre_loss


def numpy_centre_loss(labels, features, centres):
    return 0.5 * np.sum((features - centres[labels]) ** 2, axis=1)


@pytest.mark.parametrize("mode", MODES)
def test_hand_worked_values(mode):
    """Centres (0, 0) and (1, 1): f = (3, 4) of class 0 -> 12.5; (1, 1) of class 1 -> 0;
    (0, 1) of class 1 -> 0.5."""
    centres = np.array([[0.0, 0.0], [1.0, 1.0]], "float32")
    features = np.array([[3.0, 4.0], [1.0, 1.0], [0.0, 1.0]], "float32")
    np.testing.assert_allclose(
        run(mode, centre_loss, np.array([0, 1, 1]), features, centres), [12.5, 0.0, 0.5]
    )


@pytest.mark.parametrize("mode", MODES)
def test_random_batch_matches_numpy(mode):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 5, size=12)
    features = rng.normal(size=(12, 6)).astype("float32")
    centres = rng.normal(size=(5, 6)).astype("float32")
    loss = run(mode, centre_loss, labels, features, centres)
    assert loss.shape == (12,) and loss.dtype == tf.float32
    expected = numpy_centre_loss(labels, features, centres)
    np.testing.assert_allclose(loss, expected, rtol=1e-5)


def test_half_precision_features_give_float32():
    features = np.ones((2, 3), "float16")
    centres = np.zeros((4, 3), "float32")
    loss = centre_loss(np.array([0, 3]), features, centres)
    assert loss.dtype == tf.float32
    np.testing.assert_allclose(loss, [1.5, 1.5])


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    labels = np.array([0, 2, 2, 1])
    features = rng.normal(size=(4, 3))
    centres = rng.normal(size=(3, 3))

    def summed(x, c):
        return tf.reduce_sum(centre_loss(labels, x, c))

    analytic, numeric = tf.test.compute_gradient(summed, [features, centres], delta=1e-6)
    for a, n in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8)
    # d/dc_j = Σ_{i: y_i = j} (c_j - f_i): class 2 collects two samples.
    expected = np.stack([np.sum(centres[j] - features[labels == j], axis=0) for j in range(3)])
    np.testing.assert_allclose(analytic[1].reshape(3, 3), expected)


def test_weight_1e3_and_centre_lr_1_reproduce_the_bot_step():
    """BoT: total += 5e-4 · mean ||f - c||², centres by SGD lr 0.5 on the gradient of the
    unweighted mean. Here: 1e-3 · mean(centre_loss) and SGD lr 1.0 on mean(centre_loss)."""
    rng = np.random.default_rng(2)
    labels = np.array([0, 1, 1, 3])
    features = tf.constant(rng.normal(size=(4, 5)), tf.float32)
    layer = IdentityCentres(num_classes=4, dim=5)
    layer.build()
    start = layer.centres.numpy()
    with tf.GradientTape(persistent=True) as tape:
        tape.watch(features)
        mean = tf.reduce_mean(centre_loss(labels, features, layer.centres))
        weighted = 1e-3 * mean
    feature_gradient = tape.gradient(weighted, features)
    centre_optimizer = keras.optimizers.SGD(learning_rate=1.0)
    centre_optimizer.apply_gradients([(tape.gradient(mean, layer.centres), layer.centres)])

    # BoT's gradients of 5e-4 · mean ||f - c||² (features) and of the mean (centres), B = 4.
    bot_feature_gradient = 5e-4 * 2.0 * (features.numpy() - start[labels]) / 4
    bot_centres = start.copy()
    for j in range(4):
        members = features.numpy()[labels == j]
        bot_centres[j] -= 0.5 * 2.0 * np.sum(start[j] - members, axis=0) / 4
    np.testing.assert_allclose(feature_gradient, bot_feature_gradient, rtol=1e-5)
    np.testing.assert_allclose(layer.centres.numpy(), bot_centres, rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(layer.centres.numpy()[2], start[2])  # absent class: unmoved
