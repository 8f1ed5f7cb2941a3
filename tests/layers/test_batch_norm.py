"""BatchNorm: TensorFlow's fused kernel gives Keras's batch normalisation (outputs, gradients,
moving statistics), and Keras's own path runs where the kernel does not fit."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test
from method_harness import strategies

from tfreid.layers.batch_norm import BatchNorm

EPSILON, MOMENTUM = 1.001e-5, 0.9


def pair(shape, dtype="float32", **kwargs):
    """(ours, Keras's) with the same random weights, built for `shape`."""
    rng = np.random.default_rng(0)
    layers = [
        cls(epsilon=EPSILON, momentum=MOMENTUM, dtype=dtype, **kwargs)
        for cls in (BatchNorm, keras.layers.BatchNormalization)
    ]
    channels = shape[-1]
    values = [rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.2, channels)]
    values += [rng.normal(0, 0.3, channels), rng.uniform(0.5, 2.0, channels)]
    for layer in layers:
        layer.build(shape)
        layer.set_weights(
            [v for v, w in zip(values, [1, 1, 1, 1], strict=True)][: len(layer.weights)]
        )
    return layers


def inputs(shape, seed=1):
    return tf.constant(np.random.default_rng(seed).normal(1.0, 2.0, shape), tf.float32)


def test_layer_harness():
    run_layer_test(
        BatchNorm,
        init_kwargs={"momentum": MOMENTUM},
        input_data=np.random.default_rng(0).normal(size=(4, 5, 3, 6)).astype("float32"),
        expected_output_shape=(4, 5, 3, 6),
        expected_num_trainable_weights=2,
        expected_num_non_trainable_weights=2,
    )


@pytest.mark.parametrize("training", [True, False])
def test_fused_output_and_gradients_equal_keras(training):
    ours, theirs = pair((6, 5, 4, 3))
    x = inputs((6, 5, 4, 3))
    weights = inputs((6, 5, 4, 3), seed=7)  # a loss whose gradient is not ~0
    results = []
    for layer in (ours, theirs):
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=training)
            loss = tf.reduce_sum(y * weights)
        grads = tape.gradient(loss, [x, *layer.trainable_weights])
        results.append((y.numpy(), [g.numpy() for g in grads]))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-5)
    for mine, expected in zip(results[0][1], results[1][1], strict=True):
        np.testing.assert_allclose(mine, expected, rtol=1e-4, atol=1e-5)


def test_moving_statistics_take_the_biased_batch_variance_as_keras():
    """As Keras (and as N synchronised replicas, which take Keras's path): ddof=0."""
    ours, theirs = pair((6, 5, 4, 3))
    x = inputs((6, 5, 4, 3), seed=2)
    mean, variance = ours.moving_mean.numpy(), ours.moving_variance.numpy()
    ours(x, training=True)
    theirs(x, training=True)
    flat = x.numpy().reshape(-1, 3).astype(np.float64)
    expected = MOMENTUM * mean + (1 - MOMENTUM) * flat.mean(axis=0)
    np.testing.assert_allclose(ours.moving_mean, expected, rtol=1e-5)
    expected = MOMENTUM * variance + (1 - MOMENTUM) * flat.var(axis=0)
    np.testing.assert_allclose(ours.moving_variance, expected, rtol=1e-5)
    assert not np.allclose(  # distinguishable from the unbiased variance at this n (60)
        ours.moving_variance,
        MOMENTUM * variance + (1 - MOMENTUM) * flat.var(axis=0, ddof=1),
        rtol=1e-4,
    )
    np.testing.assert_allclose(ours.moving_variance, theirs.moving_variance, rtol=1e-5)


def test_bfloat16_maps_keep_float32_statistics():
    ours, theirs = pair((4, 6, 4, 8), dtype="mixed_bfloat16")
    x = inputs((4, 6, 4, 8), seed=3)
    y = ours(x, training=True)
    assert y.dtype == tf.bfloat16 and ours.moving_mean.dtype == "float32"
    np.testing.assert_allclose(
        tf.cast(y, tf.float32), tf.cast(theirs(x, training=True), tf.float32), atol=0.05
    )


@pytest.mark.parametrize("case", ["rank 2", "float64", "center off"])
def test_keras_path_where_the_kernel_does_not_fit(case):
    shape = (6, 3) if case == "rank 2" else (4, 3, 2, 3)
    dtype = "float64" if case == "float64" else "float32"
    kwargs = {"center": False} if case == "center off" else {}
    ours, theirs = pair(shape, dtype, **kwargs)
    x = tf.cast(inputs(shape, seed=4), dtype)
    np.testing.assert_allclose(
        ours(x, training=True), theirs(x, training=True), rtol=1e-5, atol=1e-6
    )


def test_synchronised_statistics_over_two_replicas_take_the_keras_path():
    """Two replicas with different halves normalise with the statistics of both halves, and
    keep the moving statistics one device (the fused kernel) keeps on the whole batch."""
    _, two = strategies()
    x = inputs((8, 3, 2, 3), seed=5)
    with two.scope():
        layer = BatchNorm(epsilon=EPSILON, synchronized=True)
        layer.build(x.shape)
    one = BatchNorm(epsilon=EPSILON, synchronized=True)
    one(x, training=True)
    halves = two.experimental_distribute_values_from_function(
        lambda context: x[
            4 * context.replica_id_in_sync_group : 4 * context.replica_id_in_sync_group + 4
        ]
    )
    outputs = two.experimental_local_results(two.run(lambda h: layer(h, training=True), (halves,)))
    flat = x.numpy().reshape(-1, 3)
    expected = (x.numpy() - flat.mean(0)) / np.sqrt(flat.var(0) + EPSILON)
    np.testing.assert_allclose(np.concatenate(outputs), expected, rtol=1e-4, atol=1e-4)
    for name in ("moving_mean", "moving_variance"):
        for replica in two.experimental_local_results(getattr(layer, name)):
            np.testing.assert_allclose(replica, getattr(one, name), rtol=1e-5, err_msg=name)
