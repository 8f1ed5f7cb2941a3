"""ReIDModel: every structure x encoding trains, and inference routes rows by modality.

Each (structure, encoding) model is built once (ResNet-6 on 32x16 images) and shared by the
tests of that pair.
"""

import functools

import numpy as np
import pytest
import tensorflow as tf

from tfreid.config import load_config, method_params
from tfreid.methods import softmax

STRUCTURES = ["one_stream", "two_stream", "asymmetric_fc"]
ENCODINGS = ["rgb3", "gray", "zero_padding", "domain_indicator"]
PAIRS = [(s, e) for s in STRUCTURES for e in ENCODINGS]
H, W, P, K, CLASSES, DIM = 32, 16, 2, 2, 3, 8


@functools.cache
def built(structure, encoding):
    cfg = load_config(
        None,
        [
            "model.backbone=resnet6",
            f"model.structure={structure}",
            f"model.encoding={encoding}",
            "model.specific_stages=3",
            f"model.feature_dim={DIM}",
            f"data.height={H}",
            f"data.width={W}",
            "optimizer.learning_rate=0.1",
            "optimizer.weight_decay=0",  # so a moved weight means it got a gradient
        ],
    )
    return cfg, softmax.build(cfg, CLASSES, 1)


def images(seed, n):
    return tf.constant(np.random.default_rng(seed).normal(size=(n, H, W, 3)).astype("float32"))


def log_softmax_cross_entropy(logits, labels):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_probs[np.arange(len(labels)), labels]


@pytest.mark.parametrize("structure,encoding", PAIRS)
def test_one_training_step_gives_the_identity_loss_and_moves_the_weights(structure, encoding):
    cfg, parts = built(structure, encoding)
    model = parts.nets["model"]
    labels = np.repeat(np.arange(P, dtype=np.int32), K)
    batch = {
        m: {"image": images(seed, P * K), "pid": tf.constant(labels)}
        for seed, m in enumerate(("rgb", "ir"))
    }
    # Training-mode BatchNorm uses batch statistics, so this forward pass sees what the step
    # sees (dropout is 0).
    outputs = model({"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}, training=True)
    assert outputs["features"].shape == (2 * P * K, 512)
    assert outputs["embedding"].shape == (2 * P * K, DIM)
    expected = log_softmax_cross_entropy(
        outputs["logits"].numpy(), np.concatenate([labels, labels])
    ).mean()
    before = [v.numpy() for v in model.trainable_variables]

    losses = softmax.train_step(parts, batch, method_params(cfg))

    assert set(losses) == {"loss/total", "loss/id"}
    assert np.isfinite(float(losses["loss/total"]))
    assert float(losses["loss/id"]) == pytest.approx(expected, rel=1e-5)
    moved = [np.abs(v.numpy() - b).max() for v, b in zip(model.trainable_variables, before)]
    assert min(moved) > 0  # every trainable variable, each stream's included, got a gradient


@pytest.mark.parametrize("structure,encoding", PAIRS)
def test_mixed_modality_embedding_equals_single_modality_rows(structure, encoding):
    _, parts = built(structure, encoding)
    model = parts.nets["model"]
    x = images(7, 6)
    modality = tf.constant([0, 1, 1, 0, 1, 0], tf.int32)

    mixed = model.embed(x, modality).numpy()
    as_rgb = model.embed(x, tf.zeros(6, tf.int32)).numpy()
    as_ir = model.embed(x, tf.ones(6, tf.int32)).numpy()

    expected = np.where(modality.numpy()[:, None] == 0, as_rgb, as_ir)
    np.testing.assert_allclose(mixed, expected, rtol=1e-5, atol=1e-5)
    routed = structure != "one_stream" or encoding in ("zero_padding", "domain_indicator")
    assert (np.abs(as_rgb - as_ir).max() > 1e-4) == routed


@pytest.mark.parametrize("structure,encoding", PAIRS)
def test_embed_matches_the_training_forward_pass(structure, encoding):
    """Inference on [rgb; ir] rows gives the embeddings the two-input call gives."""
    _, parts = built(structure, encoding)
    model = parts.nets["model"]
    rgb, ir = images(3, 3), images(4, 2)
    called = model({"rgb": rgb, "ir": ir}, training=False)["embedding"].numpy()
    embedded = model.embed(tf.concat([rgb, ir], 0), tf.constant([0, 0, 0, 1, 1])).numpy()
    np.testing.assert_allclose(embedded, called, rtol=1e-5, atol=1e-5)
