"""(Focal) modality-aware similarity-preserving loss, IJCV 2020 Eq. 2-6."""

import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run
from references import numpy_fmsp

from tfreid.losses import similarity_preserving


def random_batch(seed, num_ids=3, per_modality=2, dim=6):
    rng = np.random.default_rng(seed)
    labels = np.tile(np.repeat(np.arange(num_ids) * 10, per_modality), 2)
    modalities = np.repeat([0, 1], num_ids * per_modality)
    order = rng.permutation(len(labels))
    features = rng.normal(size=(len(labels), dim))
    return labels[order], features, modalities[order]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("focal", [False, True])
@pytest.mark.parametrize("prototype", ["sample", "mean"])
def test_perfect_batch_is_zero(mode, focal, prototype):
    """Each identity's IR features equal its RGB ones: every C(f_i) = C(f_j)."""
    labels = np.array([0, 1, 0, 1])
    modalities = np.array([0, 0, 1, 1])
    features = np.array([[1, 0], [0, 1], [1, 0], [0, 1]], "float32")
    loss = run(
        mode, similarity_preserving, labels, features, modalities, focal=focal, prototype=prototype
    )
    np.testing.assert_allclose(loss, [0.0, 0.0], atol=1e-7)


@pytest.mark.parametrize("mode", MODES)
def test_all_wrong_batch_by_hand(mode):
    """RGB id 0 = e1, IR id 0 = e2, RGB id 1 = e2, IR id 1 = e1. W1 = [e1 e2], W2 = [e2 e1].
    Pair id 0: C1(e1) = [1, 0], C1(e2) = [0, 1]: 2; C2(e2) = [1, 0], C2(e1) = [0, 1]: 2.
    Pair id 1 likewise, so MSP = 4 per pair. Every confidence is
    softmax([1, 0])[0]·softmax([0, 1])[0] = e / (1 + e)², so FMSP = 4e / (1 + e)²."""
    labels = np.array([0, 1, 0, 1])
    modalities = np.array([0, 0, 1, 1])
    features = np.array([[1, 0], [0, 1], [0, 1], [1, 0]], "float32")
    msp = run(mode, similarity_preserving, labels, features, modalities, focal=False)
    np.testing.assert_allclose(msp, [4.0, 4.0], rtol=1e-6)
    fmsp = run(mode, similarity_preserving, labels, features, modalities, focal=True)
    np.testing.assert_allclose(fmsp, [4 * np.e / (1 + np.e) ** 2] * 2, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("focal", [False, True])
@pytest.mark.parametrize("prototype", ["sample", "mean"])
def test_random_batch_matches_numpy(mode, focal, prototype):
    labels, features, modalities = random_batch(0)
    loss = run(
        mode,
        similarity_preserving,
        labels,
        features.astype("float32"),
        modalities,
        focal,
        prototype,
    )
    expected = numpy_fmsp(labels, features, modalities, focal, prototype)[0]
    assert loss.shape == (3 * 2 * 2,) and loss.dtype == tf.float32
    np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)


def test_identity_missing_a_modality_is_left_out():
    """Id 7 has only RGB images: no pair, and no column in either classifier."""
    labels, features, modalities = random_batch(1)
    labels = np.concatenate([labels, [7, 7]])
    modalities = np.concatenate([modalities, [0, 0]])
    features = np.concatenate([features, np.random.default_rng(2).normal(size=(2, 6))])
    loss = similarity_preserving(labels, features, modalities)
    expected = numpy_fmsp(labels, features, modalities, True, "mean")[0]
    np.testing.assert_allclose(loss, expected, rtol=1e-6)


def test_dynamic_pair_count_in_one_function():
    loss_fn = tf.function(
        similarity_preserving,
        input_signature=[
            tf.TensorSpec([None], tf.int64),
            tf.TensorSpec([None, 6], tf.float32),
            tf.TensorSpec([None], tf.int64),
        ],
    )
    for seed, num_ids, per_modality in ((3, 2, 2), (4, 3, 3)):
        labels, features, modalities = random_batch(seed, num_ids, per_modality)
        loss = loss_fn(labels, features.astype("float32"), modalities)
        expected = numpy_fmsp(labels, features, modalities, True, "mean")[0]
        assert loss.shape == (num_ids * per_modality**2,)
        np.testing.assert_allclose(loss, expected, rtol=1e-5, atol=1e-6)
    # A batch without any cross-modality pair: an empty loss, which averages to 0.
    empty = loss_fn(np.array([0, 1]), np.ones((2, 6), "float32"), np.array([0, 1]))
    assert empty.shape == (0,)
    assert float(tf.nn.compute_average_loss(empty, global_batch_size=2)) == 0.0


@pytest.mark.parametrize("focal", [False, True])
def test_default_prototype_is_the_identity_mean(focal):
    """The default: a column of W is the L2-normalised mean of the identity's batch features."""
    labels, features, modalities = random_batch(9, num_ids=3, per_modality=3)
    default = similarity_preserving(labels, features, modalities, focal)
    expected = numpy_fmsp(labels, features, modalities, focal, "mean")[0]
    np.testing.assert_allclose(default, expected, rtol=1e-6)
    sample = numpy_fmsp(labels, features, modalities, focal, "sample")[0]
    assert np.abs(expected - sample).max() > 1e-3  # the batch tells the two apart


def test_invariant_to_feature_scale():
    labels, features, modalities = random_batch(5)
    scales = np.random.default_rng(6).uniform(0.5, 3.0, size=(len(labels), 1))
    np.testing.assert_allclose(
        similarity_preserving(labels, features, modalities),
        similarity_preserving(labels, features * scales, modalities),
        rtol=1e-6,
    )


@pytest.mark.parametrize("focal", [False, True])
@pytest.mark.parametrize("prototype", ["sample", "mean"])
def test_gradient_matches_finite_differences(focal, prototype):
    """Central differences of the NumPy loss (float64), with the focal confidences frozen at
    the point, as the stop-gradient asks."""
    labels, features, modalities = random_batch(8, num_ids=2)
    x = tf.constant(features)
    with tf.GradientTape() as tape:
        tape.watch(x)
        loss = tf.reduce_sum(similarity_preserving(labels, x, modalities, focal, prototype))
    analytic = tape.gradient(loss, x).numpy()

    def numpy_loss(values):
        return numpy_fmsp(labels, values, modalities, focal, prototype, features)[0].sum()

    numeric = np.zeros_like(features)
    delta = 1e-6
    for index in np.ndindex(features.shape):
        step = np.zeros_like(features)
        step[index] = delta
        numeric[index] = (numpy_loss(features + step) - numpy_loss(features - step)) / (2 * delta)
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-7)


def test_bad_prototype_is_named():
    with pytest.raises(ValueError, match="prototype.*'median'"):
        similarity_preserving(np.array([0]), np.ones((1, 2)), np.array([0]), prototype="median")
