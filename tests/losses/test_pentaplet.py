"""Hard pentaplet loss (HPILN Eq. 4-6): HGT + HCT per anchor."""

import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run
from scipy.spatial.distance import cdist

from tfreid.losses import batch_hard_triplet, hard_pentaplet, hard_pentaplet_terms


def numpy_hinge(distances, positives, negatives, margin):
    """[margin + max over positives - min over negatives]+, 0 if either set is empty."""
    if not positives.any() or not negatives.any():
        return 0.0
    return max(margin + distances[positives].max() - distances[negatives].min(), 0.0)


def numpy_pentaplet_terms(labels, features, modalities, margin):
    distances = cdist(features, features)
    hgt, hct = [], []
    for a in range(len(labels)):
        same = labels == labels[a]
        cross = modalities != modalities[a]
        others = np.arange(len(labels)) != a
        hgt.append(numpy_hinge(distances[a], same & others, ~same, margin))
        hct.append(numpy_hinge(distances[a], same & cross, ~same & cross, margin))
    return np.array(hgt), np.array(hct)


def cm_batch(seed, num_ids=3, per_modality=2, dim=5):
    """A shuffled P x (K RGB + K IR) batch."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.repeat(np.arange(num_ids) * 7, per_modality), 2)
    modalities = np.repeat([0, 1], num_ids * per_modality)
    order = rng.permutation(len(labels))
    features = rng.normal(size=(len(labels), dim))
    return labels[order], features, modalities[order]


def on_a_line(positions):
    return np.stack([positions, np.zeros_like(positions)], axis=1).astype("float32")


# Identity 0: RGB at 0 and 6, IR at 2 and 3; identity 1: RGB at 1 and 9, IR at 5 and 8.
LINE_LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
LINE_MODALITIES = np.array([0, 0, 1, 1, 0, 0, 1, 1])
LINE_FEATURES = on_a_line(np.array([0.0, 6.0, 2.0, 3.0, 1.0, 9.0, 5.0, 8.0]))


@pytest.mark.parametrize("mode", MODES)
def test_hand_worked_batch_where_global_and_cross_pairs_differ(mode):
    """Margin 3. (global p, global n) and (cross p, cross n) distances per anchor:
    0 @0 RGB: HGT p 6 (RGB @6), n 1 (RGB @1) -> 8;  HCT p 3 (IR @3), n 5 (IR @5) -> 1
    0 @6 RGB: HGT p 6 (RGB @0), n 1 (IR @5)  -> 8;  HCT p 4 (IR @2), n 1 (IR @5) -> 6
    0 @2 IR:  HGT p 4 (RGB @6), n 1 (RGB @1) -> 6;  HCT the same pairs         -> 6
    0 @3 IR:  HGT p 3, n 2 (RGB @1 / IR @5)  -> 4;  HCT p 3, n 2 (RGB @1)      -> 4
    1 @1 RGB: HGT p 8 (RGB @9), n 1 (RGB @0) -> 10; HCT p 7 (IR @8), n 1 (IR @2) -> 9
    1 @9 RGB: HGT p 8 (RGB @1), n 3 (RGB @6) -> 8;  HCT p 4 (IR @5), n 6 (IR @3) -> 1
    1 @5 IR:  HGT p 4, n 1 (RGB @6)          -> 6;  HCT p 4, n 1 (RGB @6)      -> 6
    1 @8 IR:  HGT p 7 (RGB @1), n 2 (RGB @6) -> 8;  HCT the same pairs         -> 8
    """
    hgt, hct = run(mode, hard_pentaplet_terms, LINE_LABELS, LINE_FEATURES, LINE_MODALITIES, 3.0)
    np.testing.assert_allclose(hgt, [8, 8, 6, 4, 10, 8, 6, 8], atol=1e-5)
    np.testing.assert_allclose(hct, [1, 6, 6, 4, 9, 1, 6, 8], atol=1e-5)
    total = run(mode, hard_pentaplet, LINE_LABELS, LINE_FEATURES, LINE_MODALITIES, margin=3.0)
    np.testing.assert_allclose(total, [9, 14, 12, 8, 19, 9, 12, 16], atol=1e-5)
    # HGT is the batch-hard triplet here (every anchor has another positive); HCT is not.
    batch_hard = batch_hard_triplet(LINE_LABELS, LINE_FEATURES, margin=3.0)
    np.testing.assert_allclose(hgt, batch_hard, atol=1e-5)
    assert np.abs(np.asarray(hct) - np.asarray(batch_hard)).max() > 6.0


@pytest.mark.parametrize("mode", MODES)
def test_random_cm_batch_matches_numpy(mode):
    labels, features, modalities = cm_batch(0, num_ids=4, per_modality=3)
    features = features.astype("float32")
    hgt, hct = run(mode, hard_pentaplet_terms, labels, features, modalities, 0.9)
    expected_hgt, expected_hct = numpy_pentaplet_terms(labels, features, modalities, 0.9)
    np.testing.assert_allclose(hgt, expected_hgt, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(hct, expected_hct, rtol=1e-5, atol=1e-5)
    loss = run(mode, hard_pentaplet, labels, features, modalities, margin=0.9)
    assert loss.shape == (24,) and loss.dtype == tf.float32
    np.testing.assert_allclose(loss, expected_hgt + expected_hct, rtol=1e-5, atol=1e-5)
    assert np.all(expected_hct > 0) and np.all(expected_hgt > 0)  # every term is active


def test_duplicate_of_the_anchor_is_a_positive():
    """The anchor is excluded by position, not by distance: its twin at distance 0 counts."""
    labels = np.array([0, 0, 1])
    modalities = np.array([0, 0, 1])
    features = on_a_line(np.array([0.0, 0.0, 2.0]))
    hgt, _ = hard_pentaplet_terms(labels, features, modalities, margin=1.0)
    np.testing.assert_allclose(hgt, [0.0, 0.0, 0.0])
    features = on_a_line(np.array([0.0, 0.0, 0.5]))
    hgt, _ = hard_pentaplet_terms(labels, features, modalities, margin=1.0)
    np.testing.assert_allclose(hgt, [0.5, 0.5, 0.0])  # identity 1 has no other image


@pytest.mark.parametrize(
    "labels, modalities, zero_hgt, zero_hct",
    [
        # Single-modality batch: no HCT anywhere.
        ([0, 0, 1, 1], [0, 0, 0, 0], [], [0, 1, 2, 3]),
        # One identity: no negatives, nothing at all.
        ([4, 4, 4, 4], [0, 1, 0, 1], [0, 1, 2, 3], [0, 1, 2, 3]),
        # Identity 2 has one image (no HGT, no HCT); identity 1 is RGB only (no HCT).
        ([0, 0, 1, 1, 2], [0, 1, 0, 0, 1], [4], [2, 3, 4]),
    ],
)
def test_degenerate_batches_are_finite_and_missing_terms_are_zero(
    labels, modalities, zero_hgt, zero_hct
):
    labels, modalities = np.array(labels), np.array(modalities)
    features = tf.constant(np.random.default_rng(3).normal(size=(len(labels), 4)), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(features)
        hgt, hct = hard_pentaplet_terms(labels, features, modalities, margin=5.0)
        total = tf.reduce_sum(hgt + hct)
    gradient = tape.gradient(total, features)
    assert np.all(np.isfinite(hgt)) and np.all(np.isfinite(hct))
    assert np.all(np.isfinite(gradient))
    expected_hgt, expected_hct = numpy_pentaplet_terms(labels, features.numpy(), modalities, 5.0)
    np.testing.assert_allclose(hgt, expected_hgt, rtol=1e-5)
    np.testing.assert_allclose(hct, expected_hct, rtol=1e-5)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(hgt) == 0.0), zero_hgt)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(hct) == 0.0), zero_hct)


def test_dynamic_batch_size_in_one_function():
    loss_fn = tf.function(
        hard_pentaplet,
        input_signature=[
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([None, 5], tf.float32),
            tf.TensorSpec([None], tf.int32),
        ],
    )
    for seed, num_ids in ((1, 2), (2, 3)):
        labels, features, modalities = cm_batch(seed, num_ids=num_ids)
        features = features.astype("float32")
        hgt, hct = numpy_pentaplet_terms(labels, features, modalities, 0.3)
        loss = loss_fn(labels.astype("int32"), features, modalities.astype("int32"))
        np.testing.assert_allclose(loss, hgt + hct, rtol=1e-5, atol=1e-5)


def test_half_precision_features_give_float32():
    labels, features, modalities = cm_batch(4)
    assert hard_pentaplet(labels, features.astype("float16"), modalities).dtype == tf.float32


def test_gradient_matches_finite_differences():
    labels, features, modalities = cm_batch(5, num_ids=3, per_modality=2, dim=3)

    def summed(x):
        return tf.reduce_sum(hard_pentaplet(labels, x, modalities, margin=3.0))

    analytic, numeric = tf.test.compute_gradient(summed, [features], delta=1e-6)
    assert np.abs(analytic[0]).max() > 0.1  # the margin keeps every term active
    np.testing.assert_allclose(analytic[0], numeric[0], rtol=1e-5, atol=1e-6)
