"""Per-channel activation statistics of a model's ReLU layers, for the domain-specific node
analysis of `tfreid.figures.domain_nodes` (Wu et al., ICCV 2017, Fig. 8).

The layers of ResNet-6 are its 13 ReLU outputs (stem conv, then two per residual block, the
second after the shortcut addition), the paper's convolution layers (Fig. 7's conv1, conv2).
In a two-stream network the modality-specific stages' layer holds both streams' channels; a
stream's channel outputs nothing for the other modality (the paper's view of two-stream as a
one-stream network with domain-specific nodes, Sec. 3.2), so it counts as specific to its
own modality by the same test.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from tfreid.config import Config
from tfreid.data.augment import normalize
from tfreid.data.datasets import training_samples
from tfreid.data.pipeline import eval_dataset
from tfreid.data.samples import IR, RGB
from tfreid.models.networks import stage_prefix


class Moments(NamedTuple):
    """Per-channel running statistics: element count, mean, sum of squared deviations (M2)
    and sum of |x|. Merged pairwise (Chan et al.), numerically stable over long runs."""

    count: float
    mean: np.ndarray
    m2: np.ndarray
    abs_sum: np.ndarray

    def merge(self, other: Moments) -> Moments:
        count = self.count + other.count
        if count == 0:
            return self
        delta = other.mean - self.mean
        return Moments(
            count,
            self.mean + delta * (other.count / count),
            self.m2 + other.m2 + delta**2 * (self.count * other.count / count),
            self.abs_sum + other.abs_sum,
        )


EMPTY = Moments(0.0, np.zeros(()), np.zeros(()), np.zeros(()))


class LayerStatistics(NamedTuple):
    """One layer's channel statistics, float64 [C] each."""

    name: str
    rgb_abs_mean: np.ndarray
    ir_abs_mean: np.ndarray
    std: np.ndarray


def _is_relu(layer) -> bool:
    if isinstance(layer, keras.layers.ReLU):
        return True
    activation = isinstance(layer, keras.layers.Activation) and layer.get_config()["activation"]
    return activation == "relu"


def _probe(stage: keras.Model) -> tuple[keras.Model, list[str]]:
    """A model giving a stage's ReLU outputs and, last, the stage's output; the layer names
    without the stage's modality prefix."""
    relus = [layer for layer in stage.layers if _is_relu(layer)]
    if not relus:
        raise ValueError(f"backbone stage {stage.name!r} has no ReLU layer to analyse")
    prefix = stage_prefix(stage)
    names = [layer.name[len(prefix) :] for layer in relus]
    outputs = [layer.output for layer in relus] + [stage.output]
    return keras.Model(stage.inputs, outputs, name=f"{stage.name}_probe"), names


class _ActivationProbe:
    """The per-layer activations of a ReIDModel's backbone for one modality's images."""

    def __init__(self, model):
        self.model = model
        rgb = [_probe(stage) for stage in model.stem("rgb")]
        ir = [_probe(stage)[0] for stage in model.stem("ir")]
        shared = [_probe(stage) for stage in model.shared]
        self.specific = [(rgb_probe, ir_probe) for (rgb_probe, _), ir_probe in zip(rgb, ir)]
        self.shared = [shared_probe for shared_probe, _ in shared]
        self.names = [name for _, names in rgb + shared for name in names]

    def activations(self, images: tf.Tensor, modality: int) -> list[tf.Tensor]:
        x = self.model.encoding([images, tf.fill(tf.shape(images)[:1], modality)])
        layers = []
        for rgb_probe, ir_probe in self.specific:
            *own, x = (rgb_probe if modality == RGB else ir_probe)(x, training=False)
            # The other stream's channels output nothing for this modality.
            pairs = [(a, tf.zeros_like(a)) for a in own]
            layers += [tf.concat(pair if modality == RGB else pair[::-1], -1) for pair in pairs]
        for probe in self.shared:
            *own, x = probe(x, training=False)
            layers += own
        return layers


def _batch_moments(activations: tf.Tensor) -> tuple[tf.Tensor, ...]:
    flat = tf.reshape(tf.cast(activations, tf.float32), [-1, activations.shape[-1]])
    mean = tf.reduce_mean(flat, axis=0)
    return (
        tf.cast(tf.shape(flat)[0], tf.float32),
        mean,
        tf.reduce_sum(tf.square(flat - mean), axis=0),
        tf.reduce_sum(tf.abs(flat), axis=0),
    )


def collect_channel_statistics(
    model, rgb_batches: Iterable, ir_batches: Iterable
) -> list[LayerStatistics]:
    """Mean |activation| per modality and the pooled std of every channel of every layer.

    Args:
        model: a `tfreid.models.reid_model.ReIDModel` (run in inference mode).
        rgb_batches: batches of RGB images, float32 [B, H, W, 3], normalised.
        ir_batches: batches of IR images, the same.

    Returns:
        One `LayerStatistics` per ReLU layer, from the input side to the output side.
    """
    probe = _ActivationProbe(model)
    totals = {}
    for modality, batches in ((RGB, rgb_batches), (IR, ir_batches)):

        @tf.function(reduce_retracing=True)
        def moments(images, modality=modality):
            return [_batch_moments(a) for a in probe.activations(images, modality)]

        layers = [EMPTY] * len(probe.names)
        for images in batches:
            batch = [Moments(*(np.float64(v.numpy()) for v in m)) for m in moments(images)]
            layers = [total.merge(part) for total, part in zip(layers, batch)]
        if not layers or layers[0].count == 0:
            raise ValueError(f"no {'RGB' if modality == RGB else 'IR'} images to analyse")
        totals[modality] = layers
    statistics = []
    for name, rgb, ir in zip(probe.names, totals[RGB], totals[IR]):
        both = rgb.merge(ir)
        std = np.sqrt(both.m2 / both.count)
        statistics.append(
            LayerStatistics(name, rgb.abs_sum / rgb.count, ir.abs_sum / ir.count, std)
        )
    return statistics


def evenly_spaced(items: Sequence, count: int | None) -> list:
    """`count` items spread evenly over `items` (all of them when `count` is None or larger),
    so a capped analysis still sees every part of an identity-sorted list."""
    if count is not None and count < 1:
        raise ValueError(f"max_images must be >= 1, got {count}")
    if count is None or count >= len(items):
        return list(items)
    return [items[index * len(items) // count] for index in range(count)]


def training_set_statistics(
    model, cfg: Config, max_images: int | None = None, batch_size: int = 32
) -> list[LayerStatistics]:
    """`collect_channel_statistics` over the configured training set, at most `max_images`
    images per modality, without augmentation."""
    samples = training_samples(cfg.data)

    def batches(modality):
        chosen = evenly_spaced([s for s in samples if s.modality == modality], max_images)
        if not chosen:
            return  # collect_channel_statistics names the missing modality
        for batch in eval_dataset(chosen, cfg.data, batch_size):
            yield normalize(batch["image"], cfg.data.mean, cfg.data.std)

    return collect_channel_statistics(model, batches(RGB), batches(IR))
