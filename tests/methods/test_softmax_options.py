"""The softmax method's IJCV 2020 options: PCB identity loss, triplet / MMD / CORAL, lr groups."""

import numpy as np
import pytest
import tensorflow as tf
from method_harness import CLASSES, K, P, build, random_batch
from method_harness import tiny_config as config
from references import cross_entropy

from tfreid.config import ConfigError
from tfreid.losses import batch_hard_triplet, coral, mmd
from tfreid.methods import resolve, softmax


def inputs_and_labels(batch):
    inputs = {"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}
    return inputs, np.concatenate([batch["rgb"]["pid"], batch["ir"]["pid"]])


def step(cfg, batch):
    _, params, parts = build(cfg)
    inputs, labels = inputs_and_labels(batch)
    outputs = {k: v.numpy() for k, v in parts.nets["model"](inputs, training=True).items()}
    losses = softmax.train_step(parts, batch, params)
    return parts, outputs, labels, {k: float(v) for k, v in losses.items()}


def test_default_is_the_identity_loss_alone():
    _, outputs, labels, losses = step(config(), random_batch())
    assert set(losses) == {"loss/total", "loss/id"}
    expected = cross_entropy(labels, outputs["logits"]).mean()
    np.testing.assert_allclose(losses["loss/id"], expected, rtol=1e-5)
    assert losses["loss/total"] == losses["loss/id"]


def test_pcb_identity_loss_is_summed_over_stripes():
    """PCB: one classifier per stripe, the cross-entropies of the stripes added up."""
    cfg = config("model.head=pcb", "model.stripes=3")
    _, outputs, labels, losses = step(cfg, random_batch(1))
    assert outputs["logits"].shape == (2 * P * K, 3, CLASSES)
    per_stripe = [cross_entropy(labels, outputs["logits"][:, s]) for s in range(3)]
    np.testing.assert_allclose(losses["loss/id"], np.sum(per_stripe, axis=0).mean(), rtol=1e-5)


def test_comparison_losses_are_computed_on_the_features_and_weighted():
    cfg = config(
        "method.params.triplet_weight=0.5",
        "method.params.triplet_margin=0.4",
        "method.params.mmd_weight=2.0",
        "method.params.coral_weight=3.0",
    )
    _, outputs, labels, losses = step(cfg, random_batch(2))
    features = outputs["features"]
    rgb, ir = features[: P * K], features[P * K :]
    expected = {
        "loss/id": cross_entropy(labels, outputs["logits"]).mean(),
        "loss/triplet": float(tf.reduce_mean(batch_hard_triplet(labels, features, margin=0.4))),
        "loss/mmd": float(mmd(rgb, ir)),
        "loss/coral": float(coral(rgb, ir)),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(losses[name], value, rtol=1e-4, atol=1e-7, err_msg=name)
    assert expected["loss/triplet"] > 0 and expected["loss/mmd"] > 0
    total = expected["loss/id"] + 0.5 * expected["loss/triplet"]
    total += 2.0 * expected["loss/mmd"] + 3.0 * expected["loss/coral"]
    np.testing.assert_allclose(losses["loss/total"], total, rtol=1e-4)


def test_backbone_lr_scale_gives_the_backbone_its_own_rate():
    """Plain SGD: every new-layer weight moves by -lr·g, every backbone weight by -0.1·lr·g."""
    cfg = config("optimizer.backbone_lr_scale=0.1")
    _, params, parts = build(cfg)
    model = parts.nets["model"]
    assert set(parts.optimizers) == {"model", "model_backbone"}
    batch = random_batch(3)
    inputs, labels = inputs_and_labels(batch)
    variables = model.trainable_variables
    with tf.GradientTape() as tape:
        logits = model(inputs, training=True)["logits"]
        loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, logits))
    gradients = tape.gradient(loss, variables)
    before = [v.numpy() for v in variables]
    softmax.train_step(parts, batch, params)
    backbone = {id(v) for v in model.backbone_variables()}
    assert 0 < len(backbone) < len(variables)
    assert all(id(v) in backbone for v in model.shared[0].trainable_variables)
    head = model.head
    assert id(head.fc.kernel) not in backbone and id(head.classifier.kernel) not in backbone
    for variable, old, gradient in zip(variables, before, gradients, strict=True):
        rate = 0.01 if id(variable) in backbone else 0.1
        np.testing.assert_allclose(
            variable.numpy(), old - rate * gradient.numpy(), rtol=1e-4, atol=1e-6
        )


def test_ir_only_trains_on_the_ir_images_alone():
    """TS-GAN's teacher: identity + triplet on the IR half; the RGB images are never read
    (NaN there would poison every loss and weight)."""
    cfg = config(
        "model.head=bnneck", "method.params.modalities=ir", "method.params.triplet_weight=1.0"
    )
    _, params, parts = build(cfg)
    batch = random_batch(4)
    batch["rgb"]["image"] = tf.fill(tf.shape(batch["rgb"]["image"]), float("nan"))
    ir, labels = batch["ir"]["image"], batch["ir"]["pid"].numpy()
    outputs = parts.nets["model"]({"ir": ir}, training=True)
    losses = {k: float(v) for k, v in softmax.train_step(parts, batch, params).items()}
    assert outputs["logits"].shape[0] == P * K
    expected_id = cross_entropy(labels, outputs["logits"].numpy()).mean()
    triplet = batch_hard_triplet(labels, outputs["features"], margin=0.3)
    np.testing.assert_allclose(losses["loss/id"], expected_id, rtol=1e-5)
    np.testing.assert_allclose(losses["loss/triplet"], float(tf.reduce_mean(triplet)), rtol=1e-5)
    assert all(np.isfinite(w).all() for w in parts.nets["model"].get_weights())


@pytest.mark.parametrize(
    "override, message",
    [
        ("method.params.mmd_weight=-1", "method.params.mmd_weight: got -1.0"),
        ("method.params.triplet_margin=-0.1", "method.params.triplet_margin: got -0.1"),
        (
            "method.params.label_smoothing=2",
            r"method.params.label_smoothing: got 2.0.*\[0.0, 1.0\]",
        ),
        ("method.params.tripplet_weight=1", "'method.params.tripplet_weight'; did you mean"),
        ("method.params.modalities=gray", "method.params.modalities: got 'gray'"),
    ],
)
def test_bad_params_name_the_key(override, message):
    with pytest.raises(ConfigError, match=message):
        resolve(config(override))


def test_one_modality_refuses_the_cross_modality_losses():
    with pytest.raises(ConfigError, match="method.params.mmd_weight: compares RGB and IR"):
        resolve(config("method.params.modalities=ir", "method.params.mmd_weight=1"))
