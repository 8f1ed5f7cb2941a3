"""Cross-modality similarity preservation, Wu et al., IJCV 2020 (Eq. 7): L = L_cls + λ·L_FMSP.

The model is any ReID model of the `model` section; the paper's full model is the
Modality-Gated Extractor (`model.backbone: gated_resnet50`, `model.head: pcb`). L_cls is the
identity loss of every image (summed over the PCB stripes); L_FMSP (Eq. 6, or L_MSP of Eq. 3
with `focal: false`) is computed on the L2-normalised embedding over every cross-modality
positive pair of the batch, with the batch formulation of METHODS.md
(`tfreid.losses.similarity_preserving`). It is logged as "loss/msp" either way.

Scaling: the per-pair values are reduced once with `mean_over_batch`, whose global size is
(pairs on this replica) x (replicas). Every replica holds whole identities with K RGB and K IR
images each, so all replicas have the same number of pairs and the sum of the replicas' values
is the mean over all pairs of the global batch: the "mean over pairs" of METHODS.md,
independent of the number of replicas. Each replica builds W1, W2 from its own identities
(batch mining is per replica, DESIGN.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tensorflow as tf

from tfreid.losses import similarity_preserving
from tfreid.methods import base
from tfreid.typed_yaml import bounded


@dataclass
class Params:
    weight: float = bounded(10.0, low=0.0)  # λ of Eq. 7; the paper's (best between 1 and 10)
    focal: bool = True  # False: L_MSP (Eq. 3) instead of L_FMSP (Eq. 6)
    prototype: Literal["sample", "mean"] = "mean"  # classifier columns, METHODS.md
    label_smoothing: float = bounded(0.0, low=0.0, high=1.0)


def build(cfg, params: Params, num_classes: int, make_optimizer) -> base.Parts:
    return base.reid_parts(cfg, num_classes, make_optimizer)


def train_step(parts: base.Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    model = parts.nets["model"]
    inputs, labels, modalities = base.split_batch(batch)
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        classification = base.summed_identity(labels, outputs["logits"], params.label_smoothing)
        classification = base.mean_over_batch(classification)
        pairs = similarity_preserving(
            labels,
            outputs["embedding"],
            modalities,
            focal=params.focal,
            prototype=params.prototype,
        )
        preservation = base.mean_over_batch(pairs)
        total = classification + params.weight * preservation
    base.update(tape, total, *base.net_groups(parts))
    return {"loss/total": total, "loss/id": classification, "loss/msp": preservation}
