"""What every method shares: its parts, the batch layout, loss reductions and the update.

Distribution rule (docs/design.md): a method's step runs on every replica with that replica's part
of the batch. Per-sample losses are reduced once with `mean_over_batch` (the mean over the
GLOBAL batch, so the replicas' values sum to it), or with `sum_over_batch` where a paper's
literal sum over the batch is asked for; a loss that is one value per replica (MMD, CORAL) with
`mean_over_replicas`. Keras optimizers sum the replicas' gradients.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import keras
import tensorflow as tf

from tfreid.config import Config
from tfreid.losses import identity_loss
from tfreid.models.reid_model import SERVED_MODALITIES
from tfreid.models.structures import build_model

# make_optimizer(variables, lr_scale=1.0, settings=None) -> an optimizer built for `variables`
OptimizerFactory = Callable[..., keras.optimizers.Optimizer]


class Parts(NamedTuple):
    """A method's networks and optimizers (the loop checkpoints every entry, by name) and the
    network export and evaluation use (`serving.embed(images, modality)`)."""

    nets: dict[str, keras.Model]
    optimizers: dict[str, keras.optimizers.Optimizer]
    serving: keras.Model


def split_batch(
    batch: dict, modalities: Sequence[str] = SERVED_MODALITIES
) -> tuple[dict, tf.Tensor, tf.Tensor]:
    """(model inputs {name: images}, labels [B], modality indices [B]) of the batch's
    `modalities` ("rgb", "ir" or both), rows in the model's [rgb; ir] order."""
    names = [m for m in SERVED_MODALITIES if m in modalities]
    inputs = {m: batch[m]["image"] for m in names}
    labels = tf.concat([batch[m]["pid"] for m in names], axis=0)
    indices = tf.concat(
        [tf.fill(tf.shape(batch[m]["pid"]), SERVED_MODALITIES.index(m)) for m in names], axis=0
    )
    return inputs, labels, indices


def mean_over_batch(per_sample: tf.Tensor) -> tf.Tensor:
    """This replica's share of the mean over the global batch of per-sample values [N]."""
    return tf.nn.compute_average_loss(per_sample)


def sum_over_batch(per_sample: tf.Tensor) -> tf.Tensor:
    """This replica's share of the sum over the global batch of per-sample values [N]: its
    own sum (the loop adds the replicas' values, the optimizers their gradients)."""
    return tf.reduce_sum(per_sample)


REDUCTIONS = {"mean": mean_over_batch, "sum": sum_over_batch}


def reduce_over_batch(per_sample: tf.Tensor, reduction: str) -> tf.Tensor:
    """`mean_over_batch` ("mean") or `sum_over_batch` ("sum", a paper's literal sum)."""
    return REDUCTIONS[reduction](per_sample)


def mean_over_replicas(value: tf.Tensor) -> tf.Tensor:
    """This replica's share of the mean over replicas of a per-replica scalar."""
    return tf.nn.scale_regularization_loss(value)


def summed_identity(labels, logits, label_smoothing: float = 0.0) -> tf.Tensor:
    """Per-sample identity loss [B]; several heads' ([B, S, C], PCB's stripes) are summed, as
    PCB does."""
    loss = identity_loss(labels, logits, label_smoothing)
    return tf.reduce_sum(loss, axis=1) if loss.shape.rank == 2 else loss


def gradient_norms(terms: Callable[[], dict], *groups: Sequence[tf.Variable]):
    """The values of the terms `terms()` returns, and the L2 norm of each one's gradient over
    every group of variables.

    One forward pass (`terms` runs once on a persistent tape); a variable a term does not reach
    adds nothing to its norm. For measuring how loss terms share a network's
    gradient (docs/loss_scales.md).

    Returns:
        ({term: float value}, [{term: float norm} for each group]).
    """
    with tf.GradientTape(persistent=True) as tape:
        values = terms()
    norms = [{} for _ in groups]
    for name, value in values.items():
        gradients = tape.gradient(value, [v for group in groups for v in group])
        start = 0
        for group, found in zip(groups, norms):
            found[name] = float(tf.linalg.global_norm(gradients[start : start + len(group)]))
            start += len(group)
    del tape
    return {name: float(value) for name, value in values.items()}, norms


def update(tape: tf.GradientTape, loss: tf.Tensor, *groups) -> None:
    """Applies one gradient of `loss` through each (variables, optimizer) group.

    The loss scaling of mixed precision happens on the tape (the first group's optimizer
    holds the scale; configs refuse float16 with several groups of one network).
    """
    with tape:
        scaled = groups[0][1].scale_loss(loss)
    variables = [variable for group, _ in groups for variable in group]
    gradients = tape.gradient(scaled, variables)
    start = 0
    for group, optimizer in groups:
        optimizer.apply(gradients[start : start + len(group)], group)
        start += len(group)


def net_groups(
    parts: Parts, name: str = "model", extra: Sequence[str] = ()
) -> list[tuple[list, keras.optimizers.Optimizer]]:
    """The (variables, optimizer) groups of network `name` built by `reid_optimizers`; the
    networks named in `extra` train with its new layers (as `reid_optimizers`'s `extra`)."""
    net = parts.nets[name]
    others = [v for other in extra for v in parts.nets[other].trainable_variables]
    backbone_optimizer = parts.optimizers.get(f"{name}_backbone")
    if backbone_optimizer is None:
        return [(net.trainable_variables + others, parts.optimizers[name])]
    new, backbone = _new_and_backbone(net)
    return [(new + others, parts.optimizers[name]), (backbone, backbone_optimizer)]


def reid_optimizers(
    model,
    make_optimizer: OptimizerFactory,
    backbone_lr_scale: float = 1.0,
    name: str = "model",
    extra: Sequence[keras.Model] = (),
) -> dict[str, keras.optimizers.Optimizer]:
    """`name`'s optimizer, and `name`_backbone's at `backbone_lr_scale` times the rate for the
    ImageNet-initialised stages when the scale is not 1 (PCB's 0.1x backbone).

    The networks in `extra` (the base-derivative generator) are trained by `name`'s optimizer
    with the model's new layers: one optimizer, as one SGD over all parameters in the paper.
    """
    others = [v for other in extra for v in other.trainable_variables]
    if backbone_lr_scale == 1.0:
        return {name: make_optimizer(model.trainable_variables + others)}
    new, backbone = _new_and_backbone(model)
    return {
        name: make_optimizer(new + others),
        f"{name}_backbone": make_optimizer(backbone, lr_scale=backbone_lr_scale),
    }


def _new_and_backbone(model) -> tuple[list, list]:
    """(the new layers' trainable variables, the backbone stages' ones)."""
    backbone = model.backbone_variables()
    ids = {id(variable) for variable in backbone}
    return [v for v in model.trainable_variables if id(v) not in ids], backbone


def reid_parts(
    cfg: Config, num_classes: int, make_optimizer: OptimizerFactory | None, **model_kwargs
) -> Parts:
    """The `model` config section's ReID model as "model", with its optimizer(s); it serves."""
    model = build_model(cfg, num_classes, **model_kwargs)
    optimizers = (
        {}
        if make_optimizer is None
        else reid_optimizers(model, make_optimizer, cfg.optimizer.backbone_lr_scale)
    )
    return Parts(nets={"model": model}, optimizers=optimizers, serving=model)
