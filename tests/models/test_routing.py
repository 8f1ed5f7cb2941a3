"""route(): each modality's rows go through that modality's function, in training and at
inference."""

import numpy as np
import tensorflow as tf

from tfreid.models.routing import route


def centred(scale):
    """A function whose output depends on the batch it sees (like batch norm in training)."""

    def fn(x, modality):
        return scale * (x - tf.reduce_mean(x, axis=0, keepdims=True))

    return fn


def test_training_rows_see_only_their_modalities_batch():
    x = tf.constant(np.random.default_rng(0).normal(size=(7, 3)), tf.float32)
    modality = tf.constant([0, 0, 1, 1, 1, 2, 2])
    a, b = centred(1.0), centred(10.0)
    out = route([a, b, a], x, modality, sizes=[2, 3, 2]).numpy()
    # a runs once on the rows of modalities 0 and 2 together, b on modality 1's rows.
    rows_a = np.concatenate([x[:2], x[5:]])
    expected_a = rows_a - rows_a.mean(axis=0)
    np.testing.assert_allclose(out[:2], expected_a[:2], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[5:], expected_a[2:], rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(out[2:5], 10.0 * (x[2:5] - x[2:5].numpy().mean(0)), rtol=1e-5)


def test_an_absent_modality_is_skipped_in_training():
    x = tf.ones((3, 2))
    calls = []

    def record(name):
        def fn(rows, modality):
            calls.append(name)
            return rows + 1.0

        return fn

    out = route([record("rgb"), record("ir")], x, tf.constant([1, 1, 1]), sizes=[0, 3])
    assert calls == ["ir"]
    np.testing.assert_array_equal(out, np.full((3, 2), 2.0))


def test_inference_rows_keep_their_own_modalitys_result():
    x = tf.constant(np.arange(8, dtype=np.float32).reshape(4, 2))
    modality = tf.constant([1, 0, 2, 1])

    def times(k):
        return lambda rows, m: k * rows

    out = route([times(1.0), times(2.0), times(3.0)], x, modality).numpy()
    np.testing.assert_array_equal(out, x.numpy() * np.array([[2.0], [1.0], [3.0], [2.0]]))


def test_one_shared_function_runs_once_on_everything():
    calls = []

    def fn(rows, modality):
        calls.append(rows.shape[0])
        return rows

    route([fn, fn], tf.zeros((5, 1)), tf.constant([0, 0, 1, 1, 1]), sizes=[2, 3])
    assert calls == [5]
