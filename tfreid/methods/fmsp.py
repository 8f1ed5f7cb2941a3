"""Cross-modality similarity preservation, Wu et al., IJCV 2020 (Eq. 7): L = L_cls + λ·L_FMSP.

The model is any `ReIDModel`; the paper's full model is the Modality-Gated Extractor
(`model.backbone: gated_resnet50`, `model.head: pcb`). L_cls is the identity loss of every
image (summed over the PCB stripes); L_FMSP (Eq. 6, or L_MSP of Eq. 3 with `focal: false`) is
computed on the L2-normalised embedding over every cross-modality positive pair of the batch,
with the batch formulation of METHODS.md (`tfreid.losses.similarity_preserving`).

Scaling: the per-pair values are reduced once with `tf.nn.compute_average_loss`, whose default
global size is (pairs on this replica) x (replicas). Every replica holds whole identities with
K RGB and K IR images each, so all replicas have the same number of pairs and the sum of the
replicas' values is the mean over all pairs of the global batch: the "mean over pairs" of
METHODS.md, independent of the number of replicas. Each replica builds W1, W2 from its own
identities (batch mining is per replica, DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tensorflow as tf

from tfreid.config import Config, from_dict
from tfreid.losses import similarity_preserving
from tfreid.methods.parts import Parts
from tfreid.methods.softmax import (
    batch_inputs,
    build_parts,
    check_lr_scale,
    check_non_negative,
    classification_loss,
    minimize,
)


@dataclass
class Params:
    weight: float = 10.0  # λ of Eq. 7; the paper's default (best between 1 and 10)
    focal: bool = True  # False: L_MSP (Eq. 3) instead of L_FMSP (Eq. 6)
    prototype: Literal["sample", "mean"] = "mean"  # classifier columns, METHODS.md
    label_smoothing: float = 0.0
    backbone_lr_scale: float = 1.0

    def __post_init__(self):
        check_non_negative(self, ("weight",))
        check_lr_scale(self.backbone_lr_scale)


def build(cfg: Config, num_classes: int, steps_per_epoch: int) -> Parts:
    params = from_dict(Params, cfg.method.params, "method.params")
    return build_parts(cfg, num_classes, steps_per_epoch, params.backbone_lr_scale)


def train_step(parts: Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    model = parts.nets["model"]
    inputs, labels, modalities = batch_inputs(batch)
    name = "loss/fmsp" if params.focal else "loss/msp"
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        identity = classification_loss(labels, outputs["logits"], params.label_smoothing)
        identity = tf.nn.compute_average_loss(identity)
        pairs = similarity_preserving(
            labels,
            tf.cast(outputs["embedding"], tf.float32),
            modalities,
            focal=params.focal,
            prototype=params.prototype,
        )
        preservation = tf.nn.compute_average_loss(pairs)
        total = identity + params.weight * preservation
    minimize(parts, tape, total)
    return {"loss/total": total, "loss/id": identity, name: preservation}
