"""HPILN (hard pentaplet and identity loss network, IET Image Processing 2019), and the losses
it compares. A1-A6: the choices of docs/methods/hpiln.md.

A single-modality ReID network (`model.network`: Res-Mid, MGN, PCB-6, BFE, MLFN; or any model of
the `model` section) is the one-stream extractor of both modalities; its classifiers have one
output per identity (an RGB and an IR image of a person are one class), and its native ranking
loss is replaced. `loss` picks the objective, all terms weighted 1:
- "hpi" (the method, Eq. 8): hard pentaplet (Eq. 4-6) + identity (Eq. 7);
- "hp", "identity": one term alone (Table 4);
- "ht", "hti": the batch-hard triplet (Eq. 3) alone or + identity (Figs. 7-8);
- "identity_centre": identity + `centre_weight` x centre loss (Wen et al.), whose centres
  take their own SGD step at `centre_lr` (A5; `tfreid.losses.centre` maps BoT's weight
  5e-4 and centre lr 0.5 to these defaults).
Identity is plain softmax cross-entropy (no smoothing), averaged over a network's classifiers;
the ranking and centre losses are averaged over its ranking features (A1). HP or HT alone leave
the classifiers out of the objective (untrained; Keras warns once that they get no gradient).
The margin α (default 0.3) is not reported per result; the paper searches {0.3, 0.6, ..., 1.8}.
Logged: "loss/id", "loss/hp" (with its terms "loss/hgt", "loss/hct"), "loss/ht", "loss/centre".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import tensorflow as tf
from keras import ops

from tfreid.config import ConfigError, OptimizerConfig
from tfreid.layers.identity_centres import IdentityCentres
from tfreid.losses import batch_hard_triplet, centre_loss, hard_pentaplet_terms, identity_loss
from tfreid.methods import base
from tfreid.typed_yaml import bounded

# The terms of every objective, each weighted 1 (the centre loss by centre_weight).
TERMS = {
    "hpi": ("id", "hp"),
    "hp": ("hp",),
    "identity": ("id",),
    "ht": ("ht",),
    "hti": ("id", "ht"),
    "identity_centre": ("id", "centre"),
}


@dataclass
class Params:
    loss: Literal["hpi", "hp", "identity", "ht", "hti", "identity_centre"] = "hpi"
    margin: float = bounded(0.3, low=0.0)  # α of HP (Eq. 4-5) and HT (Eq. 3)
    centre_weight: float = bounded(1e-3, low=0.0)  # BoT's 5e-4 on a loss without Wen's 1/2
    centre_lr: float = bounded(1.0, low=0.0, open_low=True)  # BoT's 0.5, see losses/centre.py


def check(cfg, params: Params) -> None:
    """The centre loss's second optimizer would need a loss scale of its own under float16."""
    if params.loss == "identity_centre" and cfg.train.mixed_precision == "float16":
        raise ConfigError(
            "train.mixed_precision: method.params.loss identity_centre trains its centres with "
            "a second optimizer, which would need its own loss scale; train in bfloat16 or "
            "float32 (none), not float16"
        )


def build(cfg, params: Params, num_classes: int, make_optimizer) -> base.Parts:
    parts = base.reid_parts(cfg, num_classes, make_optimizer)
    if params.loss != "identity_centre":
        return parts
    model = parts.nets["model"]
    centres = IdentityCentres(num_classes, _feature_size(cfg, model), name="centres")
    centres.build()
    nets = {**parts.nets, "centres": centres}
    if make_optimizer is None:
        return base.Parts(nets, parts.optimizers, parts.serving)
    settings = OptimizerConfig(
        name="sgd",
        learning_rate=params.centre_lr,
        momentum=0.0,
        weight_decay=0.0,
        schedule="constant",
    )
    optimizer = make_optimizer([centres.centres], settings=settings)
    return base.Parts(nets, {**parts.optimizers, "centres": optimizer}, parts.serving)


def _feature_size(cfg, model) -> int:
    """The summed width of the model's ranking features: one set of centres per feature,
    side by side (their centre losses add up, as on the concatenated features)."""
    image = ops.zeros((1, cfg.data.height, cfg.data.width, 3))
    return sum(f.shape[-1] for f in _as_list(model({"rgb": image})["features"]))


def train_step(parts: base.Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    model = parts.nets["model"]
    inputs, labels, modalities = base.split_batch(batch)
    terms = TERMS[params.loss]
    with tf.GradientTape() as tape:
        outputs = model(inputs, training=True)
        features = _as_list(outputs["features"])
        losses, total, centres_term = {}, 0.0, 0.0
        if "id" in terms:
            losses["loss/id"] = base.mean_over_batch(mean_identity(labels, outputs["logits"]))
            total += losses["loss/id"]
        if "hp" in terms:
            losses.update(_pentaplet(labels, features, modalities, params.margin))
            total += losses["loss/hp"]
        if "ht" in terms:
            triplets = [batch_hard_triplet(labels, f, params.margin) for f in features]
            losses["loss/ht"] = base.mean_over_batch(_head_mean(triplets))
            total += losses["loss/ht"]
        if "centre" in terms:
            losses["loss/centre"], centres_term = _centre_terms(parts, labels, features)
            total += params.centre_weight * losses["loss/centre"]
        differentiated = total + centres_term
    groups = base.net_groups(parts)
    if "centre" in terms:
        groups.append(([parts.nets["centres"].centres], parts.optimizers["centres"]))
    base.update(tape, differentiated, *groups)
    return {"loss/total": total, **losses}


def mean_identity(labels, logits) -> tf.Tensor:
    """Per-sample cross-entropy [N], averaged over the classifiers of [N, S, C] logits (A1)."""
    loss = identity_loss(labels, logits)
    return tf.reduce_mean(loss, axis=1) if loss.shape.rank == 2 else loss


def _pentaplet(labels, features, modalities, margin) -> dict[str, tf.Tensor]:
    """HP (Eq. 6) and its HGT and HCT parts, each averaged over the ranking heads (A1)."""
    terms = [hard_pentaplet_terms(labels, f, modalities, margin) for f in features]
    hgt = base.mean_over_batch(_head_mean([t[0] for t in terms]))
    hct = base.mean_over_batch(_head_mean([t[1] for t in terms]))
    return {"loss/hp": hgt + hct, "loss/hgt": hgt, "loss/hct": hct}


def _head_mean(per_head: list[tf.Tensor]) -> tf.Tensor:
    """Per-sample values [N] averaged over the ranking heads."""
    return tf.add_n(per_head) / len(per_head)


def _centre_terms(parts, labels, features) -> tuple[tf.Tensor, tf.Tensor]:
    """(the centre loss, averaged over heads; the centres' own term).

    The features learn from centre_weight x the loss; the centres from the unweighted loss
    (BoT divides their gradient by the weight before its SGD step). The loss against fixed
    centres is the objective's term; the loss against fixed features, with no gradient to
    the network, gives the centres their step.
    """
    flat = tf.concat(features, axis=1)
    centres = parts.nets["centres"].centres
    heads = len(features)
    to_features = centre_loss(labels, flat, tf.stop_gradient(centres)) / heads
    to_centres = centre_loss(labels, tf.stop_gradient(flat), centres) / heads
    return base.mean_over_batch(to_features), base.mean_over_batch(to_centres)


def _as_list(features) -> list:
    return list(features) if isinstance(features, (list, tuple)) else [features]
