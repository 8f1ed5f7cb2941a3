"""Cross-modality hard triplet L_{m1->m2} (base-derivative Eq. 3-5)."""

import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run
from scipy.spatial.distance import cdist

from tfreid.losses import cross_modality_triplet


def numpy_cross_modality(labels, features, target_labels, target_features, margin):
    distances = cdist(features, target_features)
    losses = []
    for i in range(len(labels)):
        same = target_labels == labels[i]
        if not same.any() or same.all():
            losses.append(0.0)
            continue
        positive = distances[i][same].max()
        negative = distances[i][~same].min()
        losses.append(max(margin + positive - negative, 0.0))
    return np.array(losses)


def numpy_literal_eq5(labels, features, target_labels, target_features, margin):
    """Eq. 4-5 read literally: max and min of the masked products S * V and S * (1 - V)."""
    distances = cdist(features, target_features)
    vizard = (labels[:, None] == target_labels[None, :]).astype(float)
    positive = (distances * vizard).max(axis=1)
    negative = (distances * (1.0 - vizard)).min(axis=1)
    return np.maximum(margin + positive - negative, 0.0)


def on_a_line(positions):
    return np.stack([positions, np.zeros_like(positions)], axis=1).astype("float32")


@pytest.mark.parametrize("mode", MODES)
def test_hand_worked_values_differ_from_the_masked_minimum(mode):
    """Anchors: id 0 @0, id 1 @10. Targets: id 0 @1, @3; id 1 @4, @12. Margin 2.
    anchor @0:  positives at 1, 3 (max 3), negatives at 4, 12 (min 4)  -> 2 + 3 - 4 = 1
    anchor @10: positives at 6, 2 (max 6), negatives at 9, 7 (min 7)   -> 2 + 6 - 7 = 1
    The literal masked min is 0 (the zeroed positives): 2 + 3 = 5 and 2 + 6 = 8.
    """
    labels, target_labels = np.array([0, 1]), np.array([0, 0, 1, 1])
    features = on_a_line(np.array([0.0, 10.0]))
    target_features = on_a_line(np.array([1.0, 3.0, 4.0, 12.0]))
    loss = run(
        mode, cross_modality_triplet, labels, features, target_labels, target_features, margin=2.0
    )
    np.testing.assert_allclose(loss, [1.0, 1.0], atol=1e-6)
    literal = numpy_literal_eq5(labels, features, target_labels, target_features, 2.0)
    np.testing.assert_allclose(literal, [5.0, 8.0])


@pytest.mark.parametrize("mode", MODES)
def test_random_sets_match_numpy(mode):
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 3)
    target_labels = rng.permutation(np.repeat(np.arange(4), 2))
    features = rng.normal(size=(12, 6)).astype("float32")
    target_features = rng.normal(size=(8, 6)).astype("float32")
    loss = run(
        mode, cross_modality_triplet, labels, features, target_labels, target_features, margin=0.5
    )
    assert loss.shape == (12,) and loss.dtype == tf.float32
    expected = numpy_cross_modality(labels, features, target_labels, target_features, 0.5)
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)
    assert np.count_nonzero(expected) >= 6  # enough active anchors to mean something
    literal = numpy_literal_eq5(labels, features, target_labels, target_features, 0.5)
    assert np.abs(literal - expected).min() > 0.1  # the masked minimum changes every anchor


def test_the_anchor_set_is_not_a_target():
    """Only the target set is mined: an anchor's twin among the anchors changes nothing."""
    target_labels = np.array([0, 1])
    target_features = on_a_line(np.array([2.0, 3.0]))
    single = cross_modality_triplet(
        np.array([0]), on_a_line(np.array([0.0])), target_labels, target_features, margin=1.0
    )
    twins = cross_modality_triplet(
        np.array([0, 1]), on_a_line(np.array([0.0, 0.0])), target_labels, target_features, 1.0
    )
    np.testing.assert_allclose(single, [0.0])  # 1 + 2 - 3
    np.testing.assert_allclose(twins, [0.0, 2.0])  # id 1 @0: 1 + 3 - 2


def test_missing_positive_or_negative_gives_zero_and_finite_gradient():
    """Anchor id 5 has no positive among the targets, id 7 no negative (targets all id 7)."""
    rng = np.random.default_rng(1)
    features = tf.constant(rng.normal(size=(3, 4)), tf.float32)
    target_features = tf.constant(rng.normal(size=(2, 4)), tf.float32)
    for labels, target_labels in (([5, 7, 7], [7, 7]), ([5, 5, 6], [7, 8])):
        with tf.GradientTape() as tape:
            tape.watch([features, target_features])
            loss = cross_modality_triplet(
                np.array(labels), features, np.array(target_labels), target_features, margin=9.0
            )
        gradients = tape.gradient(loss, [features, target_features])
        np.testing.assert_array_equal(loss, np.zeros(3))
        assert all(np.all(np.isfinite(g)) for g in gradients)


def test_dynamic_set_sizes_in_one_function():
    loss_fn = tf.function(
        cross_modality_triplet,
        input_signature=[
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, 3], tf.float32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, 3], tf.float32),
            tf.TensorSpec([], tf.float32),
        ],
    )
    rng = np.random.default_rng(2)
    for n, m in ((4, 6), (6, 4)):
        labels = rng.integers(0, 2, size=n).astype("int32")
        target_labels = np.arange(m, dtype="int32") % 2
        x = rng.normal(size=(n, 3)).astype("float32")
        y = rng.normal(size=(m, 3)).astype("float32")
        expected = numpy_cross_modality(labels, x, target_labels, y, 0.5)
        loss = loss_fn(labels, x, target_labels, y, tf.constant(0.5))
        np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-5)


def test_half_precision_features_give_float32():
    x = np.random.default_rng(3).normal(size=(4, 3)).astype("float16")
    labels = np.array([0, 0, 1, 1])
    assert cross_modality_triplet(labels, x, labels, x, margin=0.5).dtype == tf.float32


def test_gradient_matches_finite_differences():
    rng = np.random.default_rng(4)
    labels, target_labels = np.array([0, 0, 1, 2]), np.array([0, 1, 1, 2, 2])
    features = rng.normal(size=(4, 3))  # float64: a tight finite-difference check
    target_features = rng.normal(size=(5, 3))

    def summed(x, y):
        return tf.reduce_sum(cross_modality_triplet(labels, x, target_labels, y, margin=3.0))

    analytic, numeric = tf.test.compute_gradient(summed, [features, target_features], delta=1e-6)
    for a, n in zip(analytic, numeric, strict=True):
        assert np.abs(a).max() > 0.1  # the margin keeps every anchor active
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-6)
