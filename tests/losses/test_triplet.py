"""Batch-hard triplet loss and the pairwise distance / mining helpers."""

import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run
from scipy.spatial.distance import cdist

from tfreid.losses import batch_hard_triplet
from tfreid.losses.pairwise import (
    hardest_negative,
    hardest_positive,
    pairwise_distance,
    same_identity,
)


def numpy_batch_hard(labels, features, margin):
    distances = cdist(features, features)
    losses = []
    for a in range(len(labels)):
        same = labels == labels[a]
        positive = distances[a][same].max()
        negative = distances[a][~same].min() if np.any(~same) else np.inf
        losses.append(max(margin + positive - negative, 0.0))
    return np.array(losses)


def on_a_line(positions):
    """2-D points (x, 0), so distances are |x - x'| and easy to work out by hand."""
    return np.stack([positions, np.zeros_like(positions)], axis=1).astype("float32")


@pytest.mark.parametrize("mode", MODES)
def test_perfect_batch(mode):
    """One-hot features per identity: d(a, p) = 0, d(a, n) = sqrt(2)."""
    labels = np.array([0, 0, 1, 1, 2, 2])
    features = np.eye(3, dtype="float32")[labels]
    np.testing.assert_allclose(run(mode, batch_hard_triplet, labels, features, margin=0.3), 0.0)
    expected = np.full(6, 2.0 - np.sqrt(2.0))
    loss = run(mode, batch_hard_triplet, labels, features, margin=2.0)
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_all_wrong_batch(mode):
    """Each identity's second image sits on the other identity: d(a, p) = sqrt(2), d(a, n) = 0."""
    labels = np.array([0, 0, 1, 1])
    features = np.array([[1, 0], [0, 1], [0, 1], [1, 0]], "float32")
    loss = run(mode, batch_hard_triplet, labels, features, margin=0.3)
    np.testing.assert_allclose(loss, np.full(4, 0.3 + np.sqrt(2.0)), rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_known_hardest_pairs(mode):
    """Points 0, 1, 3 (id 0) and 4, 7 (id 1), margin 1:
    anchor 0: hardest p 3 (at 3), hardest n 4 (at 4) -> 0
    anchor 1: p 2 (at 3), n 3 (at 4) -> 0
    anchor 3: p 3 (at 0), n 1 (at 4) -> 3
    anchor 4: p 3 (at 7), n 1 (at 3) -> 3
    anchor 7: p 3 (at 4), n 4 (at 3) -> 0
    """
    labels = np.array([0, 0, 0, 1, 1])
    features = on_a_line(np.array([0.0, 1.0, 3.0, 4.0, 7.0]))
    loss = run(mode, batch_hard_triplet, labels, features, margin=1.0)
    np.testing.assert_allclose(loss, [0.0, 0.0, 3.0, 3.0, 0.0], atol=1e-6)


def test_anchor_is_its_own_hardest_positive():
    """Singleton identities at 0, 1, 3, margin 1.5: d(a, p) = 0 (the anchor itself)."""
    labels = np.array([5, 6, 7])
    features = on_a_line(np.array([0.0, 1.0, 3.0]))
    loss = batch_hard_triplet(labels, features, margin=1.5)
    np.testing.assert_allclose(loss, [0.5, 0.5, 0.0], atol=1e-6)


def test_no_negative_gives_zero_and_finite_gradient():
    labels = np.array([3, 3, 3])
    features = tf.constant(np.random.default_rng(0).normal(size=(3, 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(features)
        loss = batch_hard_triplet(labels, features)
    np.testing.assert_array_equal(loss, np.zeros(3))
    assert np.all(np.isfinite(tape.gradient(loss, features)))


@pytest.mark.parametrize("mode", MODES)
def test_random_batch_matches_numpy(mode):
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, size=16)
    features = rng.normal(size=(16, 8)).astype("float32")
    loss = run(mode, batch_hard_triplet, labels, features, margin=0.5)
    assert loss.shape == (16,) and loss.dtype == tf.float32
    np.testing.assert_allclose(loss, numpy_batch_hard(labels, features, 0.5), rtol=1e-5, atol=1e-5)


def test_dynamic_batch_size_in_one_function():
    loss_fn = tf.function(
        batch_hard_triplet,
        input_signature=[tf.TensorSpec([None], tf.int32), tf.TensorSpec([None, 4], tf.float32)],
    )
    rng = np.random.default_rng(2)
    for n in (6, 10):
        labels = rng.integers(0, 3, size=n).astype("int32")
        features = rng.normal(size=(n, 4)).astype("float32")
        expected = numpy_batch_hard(labels, features, 0.3)
        np.testing.assert_allclose(loss_fn(labels, features), expected, rtol=1e-5, atol=1e-5)


def test_compiles_with_xla():
    rng = np.random.default_rng(6)
    labels = rng.integers(0, 3, size=8)
    features = rng.normal(size=(8, 4)).astype("float32")
    loss = tf.function(batch_hard_triplet, jit_compile=True)(labels, features)
    np.testing.assert_allclose(loss, numpy_batch_hard(labels, features, 0.3), rtol=1e-5, atol=1e-5)


def test_half_precision_features_give_float32():
    features = np.random.default_rng(3).normal(size=(4, 3)).astype("float16")
    assert batch_hard_triplet(np.array([0, 0, 1, 1]), features).dtype == tf.float32


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    labels = np.array([0, 0, 1, 1, 2, 2])
    features = rng.normal(size=(6, 3))  # float64: a tight finite-difference check

    def summed(x):
        return tf.reduce_sum(batch_hard_triplet(labels, x, margin=2.0))

    analytic, numeric = tf.test.compute_gradient(summed, [features], delta=1e-6)
    assert np.abs(analytic[0]).max() > 0.1  # the margin keeps every anchor active
    np.testing.assert_allclose(analytic[0], numeric[0], rtol=1e-5, atol=1e-6)


def test_gradient_is_finite_for_duplicate_points():
    features = tf.constant([[1.0, 2.0], [1.0, 2.0], [0.0, 0.0]])
    with tf.GradientTape() as tape:
        tape.watch(features)
        distances = pairwise_distance(features, features)
    gradient = tape.gradient(distances, features)
    assert np.all(np.isfinite(gradient))
    np.testing.assert_allclose(distances[0, 1], 0.0)


def test_helpers_on_two_different_sets():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(3, 4)), rng.normal(size=(5, 4))
    distances = pairwise_distance(x, y)
    np.testing.assert_allclose(distances, cdist(x, y), rtol=1e-6)

    labels, target_labels = np.array([0, 1, 9]), np.array([1, 0, 1, 2, 2])
    mask = same_identity(labels, target_labels)
    np.testing.assert_array_equal(mask, labels[:, None] == target_labels[None, :])
    positive = hardest_positive(distances, mask)
    negative = hardest_negative(distances, tf.logical_not(mask))
    np.testing.assert_allclose(positive[:2], [cdist(x, y)[0, 1], cdist(x, y)[1, [0, 2]].max()])
    assert positive[2] == -np.inf  # identity 9 has no positive in the target set
    np.testing.assert_allclose(negative[2], cdist(x, y)[2].min())
