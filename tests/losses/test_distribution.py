"""MMD and CORAL between RGB and IR features."""

import numpy as np
import pytest
import tensorflow as tf
from loss_harness import MODES, run
from scipy.spatial.distance import cdist, pdist

from tfreid.losses import coral, mmd

MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def numpy_mmd(x, y, median=None):
    """Biased MMD²; `median` fixes the bandwidth (as the stop-gradient does)."""
    pooled = np.concatenate([x, y])
    if median is None:
        median = np.median(pdist(pooled, "sqeuclidean"))

    def kernel(a, b):
        squared = cdist(a, b, "sqeuclidean")
        return sum(np.exp(-squared / (m * median)) for m in MULTIPLIERS)

    return kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()


@pytest.mark.parametrize("mode", MODES)
def test_mmd_by_hand(mode):
    """x = {0}, y = {1}: one pair, median 1; each set's self-kernel is 5 (one per bandwidth),
    so MMD² = 5 + 5 - 2·sum_m exp(-1/m)."""
    value = run(mode, mmd, np.array([[0.0]], "float32"), np.array([[1.0]], "float32"))
    expected = 10.0 - 2.0 * sum(np.exp(-1.0 / m) for m in MULTIPLIERS)
    np.testing.assert_allclose(value, expected, rtol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_mmd_zero_for_identical_sets_positive_for_shifted_and_symmetric(mode):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 5)).astype("float32")
    y = rng.normal(size=(6, 5)).astype("float32")
    assert abs(float(run(mode, mmd, x, x))) < 1e-6
    near = float(run(mode, mmd, x, y))
    shifted = float(run(mode, mmd, x, y + 3.0))
    assert 0.0 < near < shifted
    np.testing.assert_allclose(run(mode, mmd, y, x), near, rtol=1e-5)


@pytest.mark.parametrize("mode", MODES)
def test_mmd_matches_numpy(mode):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(7, 4)).astype("float32")
    y = (rng.normal(size=(9, 4)) + 0.5).astype("float32")
    value = run(mode, mmd, x, y)
    assert value.shape == () and value.dtype == tf.float32
    np.testing.assert_allclose(value, numpy_mmd(x, y), rtol=1e-5)


def test_mmd_with_dynamic_set_sizes_in_one_function():
    spec = tf.TensorSpec([None, 4], tf.float32)
    mmd_fn = tf.function(mmd, input_signature=[spec, spec])
    rng = np.random.default_rng(2)
    for n, m in ((3, 5), (6, 2)):
        x = rng.normal(size=(n, 4)).astype("float32")
        y = rng.normal(size=(m, 4)).astype("float32")
        np.testing.assert_allclose(mmd_fn(x, y), numpy_mmd(x, y), rtol=1e-5)


def test_mmd_compiles_with_xla():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 4)).astype("float32")
    y = rng.normal(size=(6, 4)).astype("float32")
    compiled = tf.function(mmd, jit_compile=True)
    np.testing.assert_allclose(compiled(x, y), numpy_mmd(x, y), rtol=1e-5)


def test_mmd_gradient_holds_the_bandwidth_fixed():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)) + 1.0  # float64
    median = np.median(pdist(np.concatenate([x, y]), "sqeuclidean"))
    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        value = mmd(x_tensor, y)
    analytic = tape.gradient(value, x_tensor).numpy()
    numeric = np.zeros_like(x)
    delta = 1e-6
    for index in np.ndindex(x.shape):
        step = np.zeros_like(x)
        step[index] = delta
        plus, minus = numpy_mmd(x + step, y, median), numpy_mmd(x - step, y, median)
        numeric[index] = (plus - minus) / (2 * delta)
    assert np.abs(numeric).max() > 1e-3
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("mode", MODES)
def test_coral_by_hand(mode):
    """d = 1: var(x = {0, 2}) = 2, var(y = {1, 1}) = 0, so (2 - 0)² / (4·1²) = 1."""
    x = np.array([[0.0], [2.0]], "float32")
    y = np.array([[1.0], [1.0]], "float32")
    np.testing.assert_allclose(run(mode, coral, x, y), 1.0, rtol=1e-6)
    np.testing.assert_allclose(run(mode, coral, x, x + 5.0), 0.0, atol=1e-6)


@pytest.mark.parametrize("mode", MODES)
def test_coral_matches_numpy(mode):
    rng = np.random.default_rng(4)
    x = rng.normal(size=(10, 6)).astype("float32")
    y = (2.0 * rng.normal(size=(7, 6))).astype("float32")
    value = run(mode, coral, x, y)
    expected = np.sum((np.cov(x, rowvar=False) - np.cov(y, rowvar=False)) ** 2) / (4 * 6**2)
    assert value.shape == () and value.dtype == tf.float32
    np.testing.assert_allclose(value, expected, rtol=1e-5)


def test_coral_gradient_matches_finite_differences():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(4, 3))  # float64
    analytic, numeric = tf.test.compute_gradient(lambda a, b: coral(a, b), [x, y], delta=1e-6)
    for a, n in zip(analytic, numeric, strict=True):
        np.testing.assert_allclose(a, n, rtol=1e-5, atol=1e-8)


def test_coral_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"at least 2 rows in y.*\(1, 3\)"):
        coral(np.ones((4, 3), "float32"), np.ones((1, 3), "float32"))
    with pytest.raises(ValueError, match=r"x of shape \[N, D\]"):
        coral(np.ones((4,), "float32"), np.ones((4, 3), "float32"))
