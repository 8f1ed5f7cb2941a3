"""Identity (softmax) training of the ICCV 2017 structures and the IJCV 2020 comparisons.

One-stream, two-stream, asymmetric FC, deep zero-padding and the domain indicator (Wu et al.,
ICCV 2017, Sec. 4-5) differ only in `model.structure` and `model.encoding`; the loss is the
identity loss of every image (summed over the stripes of a PCB head, as PCB does). The IJCV
2020 comparison losses on the same backbone (Table 3) are options, all off by default:
softmax + triplet (batch-hard triplet on `features`), DeepMMD and DeepCORAL (MMD / CORAL
between the RGB and the IR `features` of the batch).

`modalities: ir` (or `rgb`) trains on one modality of every batch: TS-GAN's teacher, a BoT
baseline of the IR training images only (label smoothing, triplet, BN-neck head).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tensorflow as tf

from tfreid.config import ConfigError
from tfreid.losses import batch_hard_triplet, coral, mmd
from tfreid.methods import base
from tfreid.typed_yaml import bounded

TRAINED_MODALITIES = {"both": ("rgb", "ir"), "rgb": ("rgb",), "ir": ("ir",)}


@dataclass
class Params:
    label_smoothing: float = bounded(0.0, low=0.0, high=1.0)
    triplet_weight: float = bounded(0.0, low=0.0)
    triplet_margin: float = bounded(0.3, low=0.0)
    mmd_weight: float = bounded(0.0, low=0.0)
    coral_weight: float = bounded(0.0, low=0.0)
    modalities: Literal["both", "rgb", "ir"] = "both"  # the images of the batch it trains on

    def __post_init__(self):
        for name in ("mmd_weight", "coral_weight"):
            if getattr(self, name) > 0 and self.modalities != "both":
                raise ConfigError(
                    f"method.params.{name}: compares RGB and IR features, so it needs "
                    f"method.params.modalities 'both', got {self.modalities!r}"
                )


def check(cfg, params: Params) -> None:
    """Nothing to check: every model of the `model` section trains with it."""


def build(cfg, params: Params, num_classes: int, make_optimizer) -> base.Parts:
    return base.reid_parts(cfg, num_classes, make_optimizer)


def train_step(parts: base.Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    model = parts.nets["model"]
    inputs, labels, _ = base.split_batch(batch, TRAINED_MODALITIES[params.modalities])
    num_rgb = tf.shape(batch["rgb"]["pid"])[0]
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        losses = {
            "loss/id": base.mean_over_batch(
                base.summed_identity(labels, outputs["logits"], params.label_smoothing)
            )
        }
        features = outputs["features"]
        total = losses["loss/id"]
        if params.triplet_weight > 0:
            triplet = batch_hard_triplet(labels, features, margin=params.triplet_margin)
            losses["loss/triplet"] = base.mean_over_batch(triplet)
            total += params.triplet_weight * losses["loss/triplet"]
        # MMD and CORAL are one value per replica (over its own RGB and IR rows).
        for name, weight, fn in (
            ("mmd", params.mmd_weight, mmd),
            ("coral", params.coral_weight, coral),
        ):
            if weight > 0:
                value = fn(features[:num_rgb], features[num_rgb:])
                losses[f"loss/{name}"] = base.mean_over_replicas(value)
                total += weight * losses[f"loss/{name}"]
    base.update(tape, total, *base.net_groups(parts))
    return {"loss/total": total, **losses}
