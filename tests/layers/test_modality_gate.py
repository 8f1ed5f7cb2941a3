"""ModalityGate: forward values (Eq. 11-12, 14) and gradients (Eq. 13 and the chain rule)."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers import ModalityGate

MODALITY = np.array([0, 1, 1, 0], dtype="int32")


def numpy_gates(raw_1, raw_2, epsilon=1e-12):
    total = np.abs(raw_1) + np.abs(raw_2) + epsilon
    return np.abs(raw_1) / total, np.abs(raw_2) / total


def make_gate(raw_1, raw_2, x):
    layer = ModalityGate()
    layer([x, MODALITY])
    layer.rgb_gate.assign(raw_1)
    layer.ir_gate.assign(raw_2)
    return layer


def test_layer_harness():
    x = np.random.default_rng(0).normal(size=(4, 6, 3, 5)).astype("float32")
    run_layer_test(
        ModalityGate,
        init_kwargs={},
        input_data=[x, MODALITY],
        expected_output_shape=(4, 6, 3, 5),
        expected_num_trainable_weights=2,
    )


def test_initial_gate_is_shared():
    layer = ModalityGate()
    x = np.ones((4, 3), "float32")
    np.testing.assert_allclose(layer([x, MODALITY]), 0.5 * x)
    a1, a2 = layer.gate_weights()
    np.testing.assert_allclose(a1, [0.5] * 3)
    np.testing.assert_allclose(a2, [0.5] * 3)


@pytest.mark.parametrize("rank", [2, 4])
def test_output_matches_numpy(rank):
    rng = np.random.default_rng(1)
    shape = (4, 3, 2, 5)[: rank - 1] + (5,)
    x = rng.normal(size=shape).astype("float32")
    raw_1 = rng.normal(size=5).astype("float32")
    raw_2 = rng.normal(size=5).astype("float32")
    layer = make_gate(raw_1, raw_2, x)
    a1, a2 = numpy_gates(raw_1, raw_2)
    expected = np.stack([x[b] * (a2 if MODALITY[b] == 1 else a1) for b in range(4)])
    np.testing.assert_allclose(layer([x, MODALITY]), expected, rtol=1e-6)
    np.testing.assert_allclose(layer.gate_weights()[0] + layer.gate_weights()[1], 1.0, rtol=1e-6)


def test_specific_nodes():
    """a1' = 0 makes an IR-specific node: RGB outputs are exactly 0 (paper case 3)."""
    x = np.ones((4, 2), "float32")
    layer = make_gate(np.array([0.0, 3.0], "float32"), np.array([2.0, 0.0], "float32"), x)
    expected = np.array([[0, 1], [1, 0], [1, 0], [0, 1]], "float32")
    np.testing.assert_allclose(layer([x, MODALITY]), expected)


def test_all_zero_raw_weights_stay_finite():
    x = np.ones((4, 2), "float32")
    layer = make_gate(np.zeros(2, "float32"), np.zeros(2, "float32"), x)
    with tf.GradientTape() as tape:
        output = tf.reduce_sum(layer([x, MODALITY]))
    gradients = tape.gradient(output, layer.trainable_weights)
    assert np.all(np.isfinite(output)) and all(np.all(np.isfinite(g)) for g in gradients)


def test_gradients_match_eq13_and_chain_rule():
    """For L = sum(w * O): dL/dX = w * a_m (Eq. 13), and through Eq. 12, with s = |a1'|+|a2'|:
    da1/da1' = sign(a1')|a2'|/s², da2/da1' = -sign(a1')|a2'|/s² (symmetrically for a2')."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(4, 3, 5)).astype("float32")
    upstream = rng.normal(size=x.shape).astype("float32")
    raw_1 = np.array([1.0, -0.5, 2.0, 0.3, -1.5], "float32")
    raw_2 = np.array([-0.7, 1.2, 0.4, 2.5, -0.2], "float32")
    layer = make_gate(raw_1, raw_2, x)
    x_tensor = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x_tensor)
        loss = tf.reduce_sum(upstream * layer([x_tensor, MODALITY]))
    grad_x, grad_1, grad_2 = tape.gradient(loss, [x_tensor, layer.rgb_gate, layer.ir_gate])

    a1, a2 = numpy_gates(raw_1, raw_2)
    is_ir = (MODALITY == 1)[:, None, None]
    np.testing.assert_allclose(grad_x, upstream * np.where(is_ir, a2, a1), rtol=1e-6)

    # dL/da1 and dL/da2: sum of upstream * X over the samples of each modality, per channel.
    dl_da1 = np.sum(np.where(is_ir, 0.0, upstream * x), axis=(0, 1))
    dl_da2 = np.sum(np.where(is_ir, upstream * x, 0.0), axis=(0, 1))
    s = np.abs(raw_1) + np.abs(raw_2)
    expected_1 = np.sign(raw_1) * np.abs(raw_2) / s**2 * (dl_da1 - dl_da2)
    expected_2 = np.sign(raw_2) * np.abs(raw_1) / s**2 * (dl_da2 - dl_da1)
    np.testing.assert_allclose(grad_1, expected_1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad_2, expected_2, rtol=1e-5, atol=1e-6)


def test_bad_inputs_are_named():
    layer = ModalityGate()
    with pytest.raises(ValueError, match="list of 2"):
        layer(np.ones((4, 3), "float32"))
    with pytest.raises(ValueError, match=r"modality of shape \[B\]"):
        layer([np.ones((4, 3), "float32"), np.zeros((4, 1), "int32")])
