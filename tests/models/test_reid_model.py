"""ReID models built from stems, shared stages and a head: every structure x encoding trains,
inference routes rows by modality, and a model over a subset of modalities shares the layers.

Each (structure, encoding) model is built once (ResNet-6 on 32x16 images) and shared by the
tests of that pair.
"""

import functools

import keras
import numpy as np
import pytest
import tensorflow as tf
from knobs import read_knobs
from references import cross_entropy

from tfreid.config import ConfigError, load_config
from tfreid.models.heads import FCHead
from tfreid.models.reid_model import ReIDModel
from tfreid.models.structures import build_model

STRUCTURES = ["one_stream", "two_stream", "asymmetric_fc"]
ENCODINGS = ["rgb3", "gray", "zero_padding", "domain_indicator"]
PAIRS = [(s, e) for s in STRUCTURES for e in ENCODINGS]
H, W, P, K, CLASSES, DIM = 32, 16, 2, 2, 3, 8


def config(*overrides):
    return load_config(
        None,
        [
            "model.backbone=resnet6",
            *read_knobs(overrides, specific_stages=3, feature_dim=DIM),
            f"data.height={H}",
            f"data.width={W}",
            *overrides,
        ],
    )


@functools.cache
def built(structure, encoding):
    return build_model(
        config(f"model.structure={structure}", f"model.encoding={encoding}"), CLASSES
    )


def images(seed, n):
    return tf.constant(np.random.default_rng(seed).normal(size=(n, H, W, 3)).astype("float32"))


@pytest.mark.parametrize("structure,encoding", PAIRS)
def test_one_training_step_reaches_every_variable(structure, encoding):
    model = built(structure, encoding)
    labels = np.repeat(np.arange(P, dtype=np.int32), K)
    inputs = {"rgb": images(0, P * K), "ir": images(1, P * K)}
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        logits = outputs["logits"]
        loss = tf.reduce_mean(
            tf.nn.sparse_softmax_cross_entropy_with_logits(np.tile(labels, 2), logits)
        )
    assert outputs["features"].shape == (2 * P * K, 512)
    assert outputs["embedding"].shape == (2 * P * K, DIM)
    expected = cross_entropy(np.tile(labels, 2), logits.numpy()).mean()
    assert float(loss) == pytest.approx(expected, rel=1e-5)
    gradients = tape.gradient(loss, model.trainable_variables)
    # Every variable, each stream's included, gets a gradient from the two-modality batch.
    assert all(g is not None and np.abs(g.numpy()).max() > 0 for g in gradients)
    before = [v.numpy() for v in model.trainable_variables]
    keras.optimizers.SGD(0.1).apply(gradients, model.trainable_variables)
    assert all(np.abs(v.numpy() - b).max() > 0 for v, b in zip(model.trainable_variables, before))


@pytest.mark.parametrize("structure,encoding", PAIRS)
def test_mixed_modality_embedding_equals_single_modality_rows(structure, encoding):
    model = built(structure, encoding)
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
    model = built(structure, encoding)
    rgb, ir = images(3, 3), images(4, 2)
    called = model({"rgb": rgb, "ir": ir}, training=False)["embedding"].numpy()
    embedded = model.embed(tf.concat([rgb, ir], 0), tf.constant([0, 0, 0, 1, 1])).numpy()
    np.testing.assert_allclose(embedded, called, rtol=1e-5, atol=1e-5)


def test_only_the_given_modalities_are_required_and_unknown_ones_are_named():
    model = built("two_stream", "gray")
    out = model({"ir": images(1, 3)}, training=False)
    assert out["embedding"].shape == (3, DIM)
    with pytest.raises(ValueError, match=r"no modality \['depth'\]"):
        model({"rgb": images(1, 2), "depth": images(2, 2)})


def test_subset_shares_the_layers_and_serves_the_same_embedding():
    model = built("two_stream", "rgb3")
    served = model.subset(["rgb", "ir"])
    assert {id(v) for v in served.variables} <= {id(v) for v in model.variables}
    x, modality = images(9, 4), tf.constant([0, 1, 0, 1])
    np.testing.assert_allclose(served.embed(x, modality), model.embed(x, modality), atol=1e-6)


def test_feature_map_of_a_shared_stage_is_returned_when_asked():
    cfg = config()
    model = build_model(cfg, CLASSES, feature_map_stage=3)
    out = model({"rgb": images(0, 2), "ir": images(1, 2)})
    assert out["feature_map"].shape == (4, H // 4, W // 4, 64)  # ResNet-6 block3


def test_feature_map_alone_equals_the_full_forward_one():
    """Through the modality stems too; the later stages and the head are not needed for it."""
    model = build_model(config("model.structure=two_stream"), CLASSES, feature_map_stage=1)
    x, modality = images(2, 4), tf.constant([1, 0, 0, 1])
    full = model.forward(x, modality)["feature_map"]
    assert full.shape == (4, H // 8, W // 8, 128)  # two-stream: shared block4 is stage 1
    np.testing.assert_allclose(model.feature_map(x, modality), full, rtol=1e-6, atol=1e-6)
    with pytest.raises(ValueError, match="without a feature_map_stage"):
        built("one_stream", "rgb3").feature_map(x, modality)


def test_stems_must_start_with_rgb_and_ir():
    head = FCHead(4, 3)
    with pytest.raises(ValueError, match=r"must start with \('rgb', 'ir'\)"):
        ReIDModel({"ir": [], "rgb": []}, [], head)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.structure=two_stream", "model.specific_stages=7"], "model.specific_stages"),
        (["model.structure=asymmetric_fc", "model.head=bnneck"], "model.head"),
    ],
)
def test_impossible_structures_are_config_errors(overrides, message):
    """Refused when the config loads (`ModelConfig`), before any model is built."""
    with pytest.raises(ConfigError, match=message):
        config(*overrides)


def test_bnneck_head_embeds_the_neck_or_the_pooled_feature():
    for choice in ("neck", "pooled"):
        model = build_model(config("model.head=bnneck", f"model.bnneck_embedding={choice}"), 5)
        out = model({"rgb": images(0, 3), "ir": images(1, 3)}, training=False)
        assert out["features"].shape == (6, 512) and out["logits"].shape == (6, 5)
        neck = model.head.neck(out["features"], training=False).numpy()
        expected = neck if choice == "neck" else out["features"].numpy()
        np.testing.assert_allclose(out["embedding"], expected, rtol=1e-6, atol=1e-6)
    assert model.head.neck.center is False and model.head.classifier.use_bias is False
