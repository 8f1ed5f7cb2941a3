"""The FMSP method (IJCV 2020, Eq. 7): L = L_cls + λ·L_FMSP, its update and a short training."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from method_harness import K, P, build, random_batch, synthetic_batch, tiny_config

from tfreid.config import ConfigError
from tfreid.layers import ModalityGate
from tfreid.losses import similarity_preserving
from tfreid.methods import fmsp, resolve


def config(*overrides):
    return tiny_config("method.name=fmsp", *overrides)


def test_defaults_follow_the_paper():
    params = fmsp.Params()
    assert (params.weight, params.focal, params.prototype) == (10.0, True, "mean")


@pytest.mark.parametrize("focal", [True, False])
def test_step_minimises_identity_plus_lambda_times_fmsp(focal):
    """The logged losses are L_cls and the mean (F)MSP over the pairs, and plain SGD moves
    every weight by -lr times the gradient of L_cls + λ·L_(F)MSP, computed here apart."""
    cfg = config(f"method.params.focal={str(focal).lower()}", "method.params.weight=3.0")
    _, params, parts = build(cfg)
    model = parts.nets["model"]
    batch = random_batch(1)
    inputs = {"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}
    labels = np.concatenate([batch["rgb"]["pid"], batch["ir"]["pid"]])
    modalities = np.repeat([0, 1], P * K)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        identity = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels, outputs["logits"])
        )
        pairs = similarity_preserving(labels, outputs["embedding"], modalities, focal=focal)
        preservation = tf.reduce_mean(pairs)
        total = identity + 3.0 * preservation
    gradients = tape.gradient(total, variables)
    before = [v.numpy() for v in variables]

    losses = fmsp.train_step(parts, batch, params)
    name = "loss/msp"
    assert set(losses) == {"loss/total", "loss/id", name}
    assert pairs.shape == (P * K * K,)
    np.testing.assert_allclose(losses["loss/id"], identity, rtol=1e-5)
    np.testing.assert_allclose(losses[name], preservation, rtol=1e-4)
    np.testing.assert_allclose(losses["loss/total"], total, rtol=1e-5)
    assert float(preservation) > 0
    for variable, old, gradient in zip(variables, before, gradients, strict=True):
        np.testing.assert_allclose(
            variable.numpy(), old - 0.1 * gradient.numpy(), rtol=1e-4, atol=1e-6
        )


def test_negative_weight_is_named():
    with pytest.raises(ConfigError, match="method.params.weight: got -1.0, expected a value >= 0"):
        resolve(config("method.params.weight=-1"))


def test_modality_gated_extractor_trains_on_synthetic_data():
    """MGE + FMSP (gated ResNet-50, PCB head): the total loss falls within a few steps, and
    the gates leave their shared start a1 = a2 = 0.5."""
    keras.utils.set_random_seed(0)
    cfg = config(
        "model.backbone=gated_resnet50",
        "model.head=pcb",
        "model.last_stride=1",
        "optimizer.learning_rate=0.02",
        "optimizer.momentum=0.9",
    )
    _, params, parts = build(cfg)
    batch = synthetic_batch()
    # Eager steps: tracing the gated ResNet-50 costs more than these few steps.
    totals = [float(fmsp.train_step(parts, batch, params)["loss/total"]) for _ in range(6)]
    assert np.isfinite(totals).all()
    assert totals[-1] < 0.85 * totals[0], totals
    gates = [
        layer
        for stage in parts.nets["model"].shared
        for layer in stage.layers
        if isinstance(layer, ModalityGate)
    ]
    a1 = np.concatenate([gate.gate_weights()[0].numpy() for gate in gates])
    assert np.abs(a1 - 0.5).max() > 1e-4
