"""The stripe-classifier head in both of its readings, against a NumPy statement of each.

- IJCV 2020's PCB (`model.head: pcb`): stripes -> 1x1 conv + BN (no ReLU) -> a classifier per
  stripe; the embedding is the reduced stripes, concatenated and L2-normalised as one vector;
  the reduction may be one per modality (asymmetric FC).
- torchreid's `pcb_p6` (`model.network: pcb_p6`): stripes -> 1x1 conv + BN + ReLU -> a
  classifier per stripe; the ranking feature and the embedding are the pooled stripes, each
  stripe L2-normalised on its own.

Every weight is set to a fixed random value and the outputs are computed again here from
those weights, at inference (moving statistics) and in training (batch statistics). The
variable paths are the checkpoint keys of runs already trained, so they are checked too.
"""

import numpy as np
import pytest
import tensorflow as tf

from tfreid.models.heads import PCBHead
from tfreid.models.networks.pcb import pcb_p6_head
from tfreid.training.checkpoint_keys import variables_by_path

B, H, W, C, CLASSES, DIM = 4, 7, 3, 10, 5, 6
BN_EPSILON = 1.001e-5


def ijcv_head(stripes, modality_specific):
    """IJCV 2020's reading of PCB."""
    return PCBHead(DIM, CLASSES, stripes, 0.0, modality_specific, name="head")


def p6_head(stripes):
    """torchreid's pcb_p6 (its stripe count and reduction width are its own)."""
    assert stripes == 6
    return pcb_p6_head(CLASSES, 0.0)


def stripe_means(x, stripes):
    """Average over the rows of stripe i, [floor(i H / S), ceil((i + 1) H / S)), and over W."""
    height = x.shape[1]
    bins = [(i * height // stripes, -(-(i + 1) * height // stripes)) for i in range(stripes)]
    return np.stack([x[:, start:end].mean(axis=(1, 2)) for start, end in bins], axis=1)


def batch_norm(values, weights, training):
    """values [N, S, D]; weights (gamma, beta, moving mean, moving variance)."""
    gamma, beta, mean, variance = weights
    if training:
        mean, variance = values.mean(axis=(0, 1)), values.var(axis=(0, 1))
    return gamma * (values - mean) / np.sqrt(variance + BN_EPSILON) + beta


def classify(reduced, kernel, bias):
    return np.einsum("bsd,sdc->bsc", reduced, kernel) + bias


def unit_rows(values):
    return values / np.maximum(np.linalg.norm(values, axis=-1, keepdims=True), 1e-12)


def built_with_fixed_weights(head, stripes, seed=0):
    """The head built on [B, H, W, C] maps, every weight drawn from a fixed generator."""
    x = tf.zeros((B, H, W, C))
    head([x, tf.zeros((B,), tf.int32)], training=False)
    rng = np.random.default_rng(seed)
    for variable in head.weights:
        value = rng.normal(size=variable.shape)
        if "variance" in variable.path:
            value = rng.uniform(0.5, 2.0, variable.shape)
        variable.assign(value.astype("float32"))
    return head, {path: v.numpy().astype(np.float64) for path, v in variables_by_path(head).items()}


def feature_map(seed=1):
    return np.random.default_rng(seed).normal(size=(B, H, W, C)).astype("float32")


def run(head, x, modality, training):
    sizes = list(np.bincount(modality, minlength=2)) if training else None
    outputs = head([tf.constant(x), tf.constant(modality)], sizes=sizes, training=training)
    return {key: np.asarray(value) for key, value in outputs.items()}


def bn_weights(weights, name):
    return [weights[f"{name}/{w}"] for w in ("gamma", "beta", "moving_mean", "moving_variance")]


def ijcv_reference(weights, x, modality, stripes, training):
    pooled = stripe_means(x.astype(np.float64), stripes)
    if "fc/fc_conv/kernel" in weights:
        groups = [("fc", np.ones(len(x), bool))]
    else:
        groups = [("rgb_fc", modality == 0), ("ir_fc", modality == 1)]
    reduced = np.zeros(pooled.shape[:2] + (DIM,))
    for name, rows in groups:
        conv = pooled[rows] @ weights[f"{name}/{name}_conv/kernel"]
        reduced[rows] = batch_norm(conv, bn_weights(weights, f"{name}/{name}_bn"), training)
    features = reduced.reshape(len(x), -1)
    logits = classify(reduced, weights["classifier/kernel"], weights["classifier/bias"])
    return {"features": features, "embedding": unit_rows(features), "logits": logits}


def p6_reference(weights, x, training):
    pooled = stripe_means(x.astype(np.float64), 6)
    conv = pooled @ weights["reduction/kernel"]
    reduced = np.maximum(batch_norm(conv, bn_weights(weights, "reduction_bn"), training), 0.0)
    normalised = unit_rows(pooled).reshape(len(x), -1)
    logits = classify(reduced, weights["classifier/kernel"], weights["classifier/bias"])
    return {"features": normalised, "embedding": normalised, "logits": logits}


def assert_outputs_equal(outputs, expected):
    assert sorted(outputs) == sorted(expected)
    for key, value in expected.items():
        np.testing.assert_allclose(outputs[key], value, rtol=2e-4, atol=2e-5, err_msg=key)


MODALITY = np.array([0, 0, 1, 1], np.int32)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("stripes", [3, 6])
def test_ijcv_reading_equals_its_statement(stripes, training):
    head, weights = built_with_fixed_weights(ijcv_head(stripes, False), stripes)
    x = feature_map()
    expected = ijcv_reference(weights, x, MODALITY, stripes, training)
    assert_outputs_equal(run(head, x, MODALITY, training), expected)
    assert set(weights) == {
        "classifier/kernel",
        "classifier/bias",
        "fc/fc_conv/kernel",
        *(f"fc/fc_bn/{w}" for w in ("gamma", "beta", "moving_mean", "moving_variance")),
    }


@pytest.mark.parametrize("training", [False, True])
def test_ijcv_reading_reduces_each_modality_with_its_own_layer(training):
    head, weights = built_with_fixed_weights(ijcv_head(6, True), 6, seed=2)
    x = feature_map(seed=3)
    expected = ijcv_reference(weights, x, MODALITY, 6, training)
    assert_outputs_equal(run(head, x, MODALITY, training), expected)
    assert {path.split("/")[0] for path in weights} == {"classifier", "rgb_fc", "ir_fc"}


@pytest.mark.parametrize("training", [False, True])
def test_p6_reading_equals_its_statement(training):
    head, weights = built_with_fixed_weights(p6_head(6), 6, seed=4)
    x = feature_map(seed=5)
    assert_outputs_equal(run(head, x, MODALITY, training), p6_reference(weights, x, training))
    assert set(weights) == {
        "classifier/kernel",
        "classifier/bias",
        "reduction/kernel",
        *(f"reduction_bn/{w}" for w in ("gamma", "beta", "moving_mean", "moving_variance")),
    }
