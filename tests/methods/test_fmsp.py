"""The FMSP method (IJCV 2020, Eq. 7): L = L_cls + λ·L_FMSP, its update and a short training."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from method_harness import (
    K,
    P,
    build,
    random_batch,
    synthetic_batch,
    tiny_config,
    two_replicas_and_one_device,
)
from references import numpy_fmsp

from tfreid.config import ConfigError
from tfreid.layers import ModalityGate
from tfreid.losses import similarity_preserving
from tfreid.methods import fmsp, resolve


def config(*overrides):
    return tiny_config("method.name=fmsp", *overrides)


def test_defaults_follow_the_paper():
    params = fmsp.Params()
    assert (params.weight, params.focal, params.prototype) == (10.0, True, "mean")
    assert params.reduction == "mean"  # over the pairs; docs/loss_scales.md


@pytest.mark.parametrize("focal, reduction", [(True, "mean"), (False, "mean"), (True, "sum")])
def test_step_minimises_identity_plus_lambda_times_fmsp(focal, reduction):
    """The logged losses are L_cls and the mean (or sum) of the (F)MSP values over the pairs,
    and plain SGD moves every weight by -lr times the gradient of L_cls + λ·L_(F)MSP,
    computed here apart."""
    cfg = config(
        f"method.params.focal={str(focal).lower()}",
        "method.params.weight=3.0",
        f"method.params.reduction={reduction}",
    )
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
        preservation = tf.reduce_mean(pairs) if reduction == "mean" else tf.reduce_sum(pairs)
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


@pytest.mark.parametrize("focal", [True, False])
def test_sum_reduction_is_eq_3_and_6_as_printed(focal):
    """`reduction: sum` logs the sum over the batch's P·K² cross-modality positive pairs of
    the per-pair (F)MSP values of a NumPy statement of Eq. 2-6, on the model's embeddings."""
    cfg = config(f"method.params.focal={str(focal).lower()}", "method.params.reduction=sum")
    _, params, parts = build(cfg)
    batch = random_batch(4)
    inputs = {"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}
    embedding = parts.nets["model"](inputs, training=True)["embedding"].numpy()
    labels = np.concatenate([batch["rgb"]["pid"], batch["ir"]["pid"]])
    values, _ = numpy_fmsp(
        labels, embedding.astype(np.float64), np.repeat([0, 1], P * K), focal, "mean"
    )
    losses = fmsp.train_step(parts, batch, params)
    assert len(values) == P * K * K
    np.testing.assert_allclose(losses["loss/msp"], values.sum(), rtol=1e-4)
    np.testing.assert_allclose(
        losses["loss/total"], losses["loss/id"] + 10.0 * values.sum(), rtol=1e-5
    )


def test_sum_reduction_sums_over_the_global_batch():
    """Two replicas holding the same half batch: the sum over pairs doubles (twice the pairs)
    in the logged loss, the identity loss stays a mean. (That the default mean equals one
    device's is tests/methods/test_methods.py's two-replica case of fmsp.)"""
    cfg = config("method.params.reduction=sum", "method.params.weight=0.5")
    (two, _), (one, _), _ = two_replicas_and_one_device(cfg)
    np.testing.assert_allclose(two["loss/msp"], 2.0 * one["loss/msp"], rtol=1e-5)
    np.testing.assert_allclose(two["loss/id"], one["loss/id"], rtol=1e-5)


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
