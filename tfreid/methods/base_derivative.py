"""The base-derivative framework (Liu et al., ICPR 2020; docs/methods/base_derivative.md).

The generator (`tfreid.layers.DerivativeGenerator`, Eq. 1) makes two derivative modalities of
the batch: D_V = G_S(E_V(V)) and D_I = G_S(I). Every modality has its own ResNet-50 stem; layer1
to layer4, the BN-neck head and its one bias-free classifier are shared (the `model` section:
`two_stream` with `specific_stages: 1`, `last_stride: 1`, `head: bnneck`). The loss (Eq. 9) is
α·ID + β·MML + γ·MDL, each term a sum of means over anchors by default (`reduction: sum`
takes Eq. 4 and 7's sums over anchors instead; docs/loss_scales.md measures both):

- ID (Eq. 8): cross-entropy of every image; the per-modality means, summed over modalities.
- MML (Eq. 6-7): batch-hard triplet (margin α1) within each modality, summed over modalities.
- MDL (Eq. 2-5): the cross-modality hard triplet (margin α2) in both directions of every pair
  of `mdl_pairs`, summed over pairs and directions.

Triplets use the pooled feature, the classifier the neck output, the test the neck output
(B3). The generator has no loss of its own: the same gradient trains it, with the optimizer of
the model's new layers (the paper trains everything with one SGD).

A derivative modality takes part (generated, through its stem, in ID and MML) when some pair
of `mdl_pairs` names it. So `mdl_pairs` alone selects the rows of Table IV: [V-I] is B2 (V
and I only), [V-I, V-D_I] is B2+MML+MDL^1 (adds D_I), [V-I, I-D_V] is ^2 (adds D_V), the four
pairs are ^3, the default three pairs ^4 (the paper's model); B1 is [] with `mml_weight: 0`.

Serving uses the V and I paths only (`ReIDModel.subset`): the SavedModel holds neither the
generator nor the derivative stems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import keras
import tensorflow as tf

from tfreid.config import ConfigError
from tfreid.layers import DerivativeGenerator
from tfreid.losses import batch_hard_triplet, cross_modality_triplet
from tfreid.methods import base
from tfreid.models.reid_model import SERVED_MODALITIES
from tfreid.models.structures import build_model, check_modalities
from tfreid.typed_yaml import bounded

# The framework's modalities: V, I and their derivatives D_V, D_I; the model takes them in
# this order (modality indices 0-3).
DERIVATIVE_MODALITIES = (*SERVED_MODALITIES, "rgb_derived", "ir_derived")
# The paper's modality symbols and the model's modality names.
MODALITY_OF = {"V": "rgb", "I": "ir", "D_V": "rgb_derived", "D_I": "ir_derived"}
Pair = Literal["V-I", "V-D_I", "I-D_V", "D_V-D_I"]  # Table IV's MDL columns


@dataclass
class Params:
    id_weight: float = bounded(1.0, low=0.0)  # α of Eq. 9
    mml_weight: float = bounded(1.0, low=0.0)  # β
    mdl_weight: float = bounded(1.0, low=0.0)  # γ: 1 on SYSU-MM01, 5 on RegDB
    mml_margin: float = bounded(0.3, low=0.0)  # α1 of Eq. 7
    mdl_margin: float = bounded(0.5, low=0.0)  # α2 of Eq. 4
    mdl_pairs: list[Pair] = field(default_factory=lambda: ["V-I", "V-D_I", "I-D_V"])
    # MML and MDL over their anchors: the mean, or the sum Eq. 4 and 7 print (24 anchors a
    # modality in the paper's batch, so "sum" is 24x "mean"; docs/loss_scales.md).
    reduction: Literal["mean", "sum"] = "mean"

    def __post_init__(self):
        if len(set(self.mdl_pairs)) != len(self.mdl_pairs):
            raise ConfigError(
                f"method.params.mdl_pairs: a pair is listed twice in {self.mdl_pairs}"
            )


def pair_modalities(pair: str) -> tuple[str, str]:
    """The model's modality names of an MDL pair, e.g. "V-D_I" -> ("rgb", "ir_derived")."""
    first, second = pair.split("-")
    return MODALITY_OF[first], MODALITY_OF[second]


def taking_part(params: Params) -> tuple[str, ...]:
    """The modalities trained: "rgb", "ir" and each derivative some MDL pair names, in the
    model's order."""
    named = {m for pair in params.mdl_pairs for m in pair_modalities(pair)}
    return tuple(m for m in DERIVATIVE_MODALITIES if m in SERVED_MODALITIES or m in named)


def generator_network() -> keras.Model:
    """The generator as a network: [rgb, ir] normalised images -> [D_V, D_I]."""
    rgb = keras.Input((None, None, 3), name="rgb")
    ir = keras.Input((None, None, 3), name="ir")
    derived = DerivativeGenerator(name="derivative_generator")([rgb, ir])
    return keras.Model([rgb, ir], list(derived), name="generator")


def check(cfg, params: Params) -> None:
    """The derivative modalities `mdl_pairs` trains need a model that takes any modality
    index: 3-channel input, no gates, no asymmetric FC."""
    source = f"method.params.mdl_pairs {params.mdl_pairs} of base_derivative"
    check_modalities(cfg.model, taking_part(params), source)


def build(cfg, params: Params, num_classes: int, make_optimizer) -> base.Parts:
    modalities = taking_part(params)
    model = build_model(cfg, num_classes, modalities=modalities)
    nets = {"model": model}
    if len(modalities) > len(SERVED_MODALITIES):
        nets["generator"] = generator_network()
    optimizers = {}
    if make_optimizer is not None:
        optimizers = base.reid_optimizers(
            model, make_optimizer, cfg.optimizer.backbone_lr_scale, extra=_others(nets).values()
        )
    return base.Parts(nets, optimizers, serving=model.subset(SERVED_MODALITIES))


def _others(nets: dict) -> dict:
    return {name: net for name, net in nets.items() if name != "model"}


def train_step(parts: base.Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    with tf.GradientTape() as tape:
        terms, losses = loss_terms(parts, batch, params)
        total = terms["id"] + terms["mml"] + terms["mdl"]
    base.update(tape, total, *base.net_groups(parts, extra=list(_others(parts.nets))))
    return {"loss/total": total, **losses}


def loss_terms(parts: base.Parts, batch: dict, params: Params):
    """The weighted terms of Eq. 9 the step minimises, ({"id": α·ID, "mml": β·MML, "mdl":
    γ·MDL}, the logged "loss/id", "loss/mml" and "loss/mdl")."""
    model = parts.nets["model"]
    labels = {m: batch[_source(m)]["pid"] for m in model.modalities}
    outputs = model(_images(parts, batch), training=True)
    sizes = [tf.shape(labels[m])[0] for m in model.modalities]
    features = dict(zip(model.modalities, tf.split(outputs["features"], sizes)))
    logits = dict(zip(model.modalities, tf.split(outputs["logits"], sizes)))
    identity = [base.summed_identity(labels[m], logits[m]) for m in model.modalities]
    intra = [
        batch_hard_triplet(labels[m], features[m], params.mml_margin) for m in model.modalities
    ]
    margin = params.mdl_margin
    cross = [
        cross_modality_triplet(labels[a], features[a], labels[b], features[b], margin)
        for a, b in _directions(params.mdl_pairs)
    ]
    losses = {
        "loss/id": _summed(identity, "mean"),  # Eq. 8: per-modality means, summed
        "loss/mml": _summed(intra, params.reduction),
        # No pair (Table IV's B1): 0, in the losses' dtype.
        "loss/mdl": _summed(cross, params.reduction) if cross else tf.zeros_like(identity[0][0]),
    }
    terms = {
        "id": params.id_weight * losses["loss/id"],
        "mml": params.mml_weight * losses["loss/mml"],
        "mdl": params.mdl_weight * losses["loss/mdl"],
    }
    return terms, losses


def _directions(pairs) -> list[tuple[str, str]]:
    """(anchor modality, target modality) of L_{m1->m2} and L_{m1<-m2} for every pair."""
    directions = [pair_modalities(pair) for pair in pairs]
    return [d for first, second in directions for d in ((first, second), (second, first))]


def _source(modality: str) -> str:
    """The batch entry a modality's images come from ("rgb_derived" -> "rgb")."""
    return modality.removesuffix("_derived")


def _images(parts: base.Parts, batch: dict) -> dict:
    """{modality: images} of every modality the model takes, the derivatives generated."""
    images = {m: batch[m]["image"] for m in SERVED_MODALITIES}
    if "generator" in parts.nets:
        derived = parts.nets["generator"]([images["rgb"], images["ir"]])
        images.update(zip(DERIVATIVE_MODALITIES[len(SERVED_MODALITIES) :], derived))
    return {m: images[m] for m in parts.nets["model"].modalities}


def _summed(per_sample: list, reduction: str) -> tf.Tensor:
    """The sum over modalities (directions) of each per-anchor loss's mean (B5) or sum (Eq. 4
    and 7 as printed) over its global batch."""
    return tf.add_n([base.reduce_over_batch(values, reduction) for values in per_sample])
