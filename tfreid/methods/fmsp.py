"""Cross-modality similarity preservation, Wu et al., IJCV 2020 (Eq. 7): L = L_cls + λ·L_FMSP.

The model is any ReID model of the `model` section; the paper's full model is the
Modality-Gated Extractor (`model.backbone: gated_resnet50`, `model.head: pcb`). L_cls is the
identity loss of every image (summed over the PCB stripes); L_FMSP (Eq. 6, or L_MSP of Eq. 3
with `focal: false`) is computed on the L2-normalised embedding over every cross-modality
positive pair of the batch (`tfreid.losses.similarity_preserving`). It is logged as
"loss/msp" either way.

Scaling (`reduction: mean`, the default; docs/loss_scales.md measures both readings): the
per-pair values are reduced once with `mean_over_batch`, whose global size is (pairs on this
replica) x (replicas). Every replica holds whole identities with K RGB and K IR images each,
so all replicas have the same number of pairs and the sum of the replicas' values is the mean
over all pairs of the global batch, independent of the number of replicas. Each replica builds
W1, W2 from its own identities (batch mining is per replica). `reduction: sum` is Eq. 3 / 6 as
printed: the sum over every pair of the global batch.
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
    prototype: Literal["sample", "mean"] = "mean"  # classifier columns (similarity_preserving)
    label_smoothing: float = bounded(0.0, low=0.0, high=1.0)
    # L_(F)MSP over the batch's pairs: their mean, or their sum as Eq. 3 and 6 print it
    # (P x K² = 128 pairs in the paper configs' batches, so "sum" is 128x "mean";
    # docs/loss_scales.md).
    reduction: Literal["mean", "sum"] = "mean"


def check(cfg, params: Params) -> None:
    """Nothing to check: every model of the `model` section trains with it."""


def build(cfg, params: Params, num_classes: int, make_optimizer) -> base.Parts:
    return base.reid_parts(cfg, num_classes, make_optimizer)


def train_step(parts: base.Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    with tf.GradientTape() as tape:
        terms, losses = loss_terms(parts, batch, params)
        total = terms["cls"] + terms["fmsp"]
    base.update(tape, total, *base.net_groups(parts))
    return {"loss/total": total, **losses}


def loss_terms(parts: base.Parts, batch: dict, params: Params):
    """The two terms of Eq. 7 the step minimises, ({"cls": L_cls, "fmsp": λ·L_(F)MSP}, the
    logged "loss/id" and "loss/msp"); L_(F)MSP is reduced over the pairs by `reduction`."""
    inputs, labels, modalities = base.split_batch(batch)
    outputs = parts.nets["model"](inputs, training=True)
    classification = base.summed_identity(labels, outputs["logits"], params.label_smoothing)
    classification = base.mean_over_batch(classification)
    pairs = similarity_preserving(
        labels,
        outputs["embedding"],
        modalities,
        focal=params.focal,
        prototype=params.prototype,
    )
    preservation = base.reduce_over_batch(pairs, params.reduction)
    terms = {"cls": classification, "fmsp": params.weight * preservation}
    return terms, {"loss/id": classification, "loss/msp": preservation}
