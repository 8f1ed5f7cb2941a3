"""Identity (softmax) training of the ICCV 2017 structures and the IJCV 2020 comparisons.

One-stream, two-stream, asymmetric FC, deep zero-padding and the domain indicator (Wu et al.,
ICCV 2017, Sec. 4-5) differ only in `model.structure` and `model.encoding`; the loss is the
identity loss of every image (summed over the stripes of a PCB head, as PCB does). The IJCV
2020 comparison losses on the same backbone (Table 3) are options, all off by default:
softmax + triplet (batch-hard triplet on `features`), DeepMMD and DeepCORAL (MMD / CORAL
between the RGB and the IR `features` of the batch).

`backbone_lr_scale` gives the ImageNet-initialised backbone layers their own optimizer with
the learning rate scaled, as PCB trains them at 0.1x the rate of the new layers.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import tensorflow as tf

from tfreid.config import Config, ConfigError, from_dict
from tfreid.losses import batch_hard_triplet, coral, identity_loss, mmd
from tfreid.methods.parts import Parts
from tfreid.models.reid_model import build_model
from tfreid.training.optimizers import build_optimizer


@dataclass
class Params:
    label_smoothing: float = 0.0
    triplet_weight: float = 0.0
    triplet_margin: float = 0.3
    mmd_weight: float = 0.0
    coral_weight: float = 0.0
    backbone_lr_scale: float = 1.0

    def __post_init__(self):
        check_non_negative(self, ("triplet_weight", "triplet_margin", "mmd_weight", "coral_weight"))
        check_lr_scale(self.backbone_lr_scale)


def check_non_negative(params, names) -> None:
    for name in names:
        if getattr(params, name) < 0:
            raise ConfigError(f"method.params.{name} must be >= 0, got {getattr(params, name)}")


def check_lr_scale(scale: float) -> None:
    if scale <= 0:
        raise ConfigError(f"method.params.backbone_lr_scale must be > 0, got {scale}")


def build(cfg: Config, num_classes: int, steps_per_epoch: int) -> Parts:
    params = from_dict(Params, cfg.method.params, "method.params")
    return build_parts(cfg, num_classes, steps_per_epoch, params.backbone_lr_scale)


def build_parts(
    cfg: Config, num_classes: int, steps_per_epoch: int, backbone_lr_scale: float = 1.0
) -> Parts:
    """The model and its optimizer(s): "model" alone, or "model" for the new layers plus
    "backbone" (learning rate x `backbone_lr_scale`) when the scale is not 1."""
    model = build_model(cfg, num_classes)
    if backbone_lr_scale != 1.0 and cfg.train.mixed_precision:
        raise ConfigError(
            "method.params.backbone_lr_scale != 1 needs two optimizers, each with its own loss "
            "scale; it is not supported with train.mixed_precision=true"
        )
    groups = variable_groups(model, split=backbone_lr_scale != 1.0)
    rates = {"model": cfg.optimizer, "backbone": _scaled(cfg.optimizer, backbone_lr_scale)}
    optimizers = {
        name: build_optimizer(
            rates[name], variables, steps_per_epoch, cfg.train.epochs, cfg.train.mixed_precision
        )
        for name, variables in groups.items()
    }
    return Parts(nets={"model": model}, optimizers=optimizers)


def _scaled(optimizer_cfg, scale: float):
    return dataclasses.replace(optimizer_cfg, learning_rate=optimizer_cfg.learning_rate * scale)


def variable_groups(model, split: bool) -> dict[str, list]:
    """{"model": variables} or {"model": new-layer variables, "backbone": backbone ones}."""
    if not split:
        return {"model": model.trainable_variables}
    backbone = model.backbone_variables()
    ids = {id(variable) for variable in backbone}
    new = [variable for variable in model.trainable_variables if id(variable) not in ids]
    return {"model": new, "backbone": backbone}


def minimize(parts: Parts, tape: tf.GradientTape, loss: tf.Tensor) -> None:
    """One update of every optimizer of `parts` from the gradient of `loss`."""
    groups = variable_groups(parts.nets["model"], split="backbone" in parts.optimizers)
    variables = [variable for group in groups.values() for variable in group]
    with tape:  # the loss scaling (mixed precision) must be on the tape too
        scaled = parts.optimizers["model"].scale_loss(loss)
    gradients = tape.gradient(scaled, variables)
    start = 0
    for name, group in groups.items():
        pairs = zip(gradients[start : start + len(group)], group, strict=True)
        parts.optimizers[name].apply_gradients(pairs)
        start += len(group)


def classification_loss(labels, logits, label_smoothing: float = 0.0) -> tf.Tensor:
    """Per-sample identity loss, float32 [B]; logits [B, C], or [B, S, C] summed over S (PCB)."""
    logits = tf.cast(logits, tf.float32)
    if logits.shape.rank == 2:
        return identity_loss(labels, logits, label_smoothing)
    stripes = logits.shape[1]
    flat = tf.reshape(logits, [-1, logits.shape[2]])
    per_stripe = identity_loss(tf.repeat(labels, stripes), flat, label_smoothing)
    return tf.reduce_sum(tf.reshape(per_stripe, [-1, stripes]), axis=1)


def batch_inputs(batch: dict) -> tuple[dict, tf.Tensor, tf.Tensor]:
    """(model inputs, labels [B], modalities [B]) for the [rgb; ir] order of the model."""
    labels = tf.concat([batch["rgb"]["pid"], batch["ir"]["pid"]], axis=0)
    modalities = tf.concat(
        [tf.zeros_like(batch["rgb"]["pid"]), tf.ones_like(batch["ir"]["pid"])], axis=0
    )
    inputs = {"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}
    return inputs, labels, modalities


def train_step(parts: Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    model = parts.nets["model"]
    inputs, labels, _ = batch_inputs(batch)
    num_rgb = tf.shape(batch["rgb"]["pid"])[0]
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        identity = classification_loss(labels, outputs["logits"], params.label_smoothing)
        losses = {"loss/id": tf.nn.compute_average_loss(identity)}
        features = tf.cast(outputs["features"], tf.float32)
        total = losses["loss/id"]
        if params.triplet_weight > 0:
            triplet = batch_hard_triplet(labels, features, margin=params.triplet_margin)
            losses["loss/triplet"] = tf.nn.compute_average_loss(triplet)
            total += params.triplet_weight * losses["loss/triplet"]
        # MMD and CORAL are one value per replica (over its own RGB and IR rows); scaling by
        # 1 / replicas makes the replicas' sum their mean.
        for name, weight, fn in (
            ("mmd", params.mmd_weight, mmd),
            ("coral", params.coral_weight, coral),
        ):
            if weight > 0:
                value = fn(features[:num_rgb], features[num_rgb:])
                losses[f"loss/{name}"] = tf.nn.scale_regularization_loss(value)
                total += weight * losses[f"loss/{name}"]
    minimize(parts, tape, total)
    return {"loss/total": total, **losses}
