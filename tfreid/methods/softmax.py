"""Identity (softmax) training of the ICCV 2017 structures (Wu et al., Sec. 4-5).

One-stream, two-stream, asymmetric FC, deep zero-padding and the domain indicator differ only
in `model.structure` and `model.encoding`; the loss is the identity loss of every image.
"""

from __future__ import annotations

from dataclasses import dataclass

import tensorflow as tf

from tfreid.config import Config
from tfreid.losses import identity_loss
from tfreid.methods.parts import Parts
from tfreid.models.reid_model import build_model
from tfreid.training.optimizers import build_optimizer


@dataclass
class Params:
    label_smoothing: float = 0.0


def build(cfg: Config, num_classes: int, steps_per_epoch: int) -> Parts:
    model = build_model(cfg, num_classes)
    optimizer = build_optimizer(
        cfg.optimizer,
        model.trainable_variables,
        steps_per_epoch,
        cfg.train.epochs,
        cfg.train.mixed_precision,
    )
    return Parts(nets={"model": model}, optimizers={"model": optimizer})


def train_step(parts: Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    model, optimizer = parts.nets["model"], parts.optimizers["model"]
    labels = tf.concat([batch["rgb"]["pid"], batch["ir"]["pid"]], axis=0)
    with tf.GradientTape() as tape:
        outputs = model({"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}, training=True)
        logits = tf.cast(outputs["logits"], tf.float32)
        loss = tf.nn.compute_average_loss(identity_loss(labels, logits, params.label_smoothing))
    variables = model.trainable_variables
    gradients = tape.gradient(optimizer.scale_loss(loss), variables)
    optimizer.apply_gradients(zip(gradients, variables))
    return {"loss/total": loss, "loss/id": loss}
