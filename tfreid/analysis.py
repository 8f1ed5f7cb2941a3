"""Domain-specific nodes per layer (Wu et al., ICCV 2017, Sec. 3.2 Eq. 3, Sec. 4.2, Fig. 8).

A node is a channel of a ReLU output (Eq. 2: a node's output is after the activation σ). Eq. 3
calls a node domain1-specific when its output on every domain-2 input is zero; Fig. 8 relaxes
"zero" to "below T", T = 0.01 std (strict) or 0.05 std (loose), where std is "the standard
deviation of the output of the i-th node in layer l". That std carries no domain, so we take it
over every activation of the channel (all images of both domains, all positions); a channel
whose mean |activation| is at most T on both domains is counted apart, as inactive.

The layers of ResNet-6 are its 13 ReLU outputs (stem conv, then two per residual block, the
second after the shortcut addition), the paper's convolution layers (Fig. 7's conv1, conv2).
In a two-stream network the modality-specific stages' layer holds both streams' channels; a
stream's channel outputs nothing for the other modality (the paper's view of two-stream as a
one-stream network with domain-specific nodes, Sec. 3.2), so it counts as specific to its
own modality by the same test.
"""

from __future__ import annotations

import csv
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
from tfreid.files import atomic_write
from tfreid.models.backbones import part_prefix

THRESHOLDS = {"strict": 0.01, "loose": 0.05}
KINDS = ("rgb_specific", "ir_specific", "shared", "inactive")


def domain_specific_proportions(rgb_abs_mean, ir_abs_mean, std, threshold: float) -> dict:
    """Fractions of a layer's channels of each kind under T = threshold * std.

    A channel is RGB-specific when its mean |activation| on IR inputs is at most T and on RGB
    inputs above T, IR-specific the other way round, shared when above T on both, inactive
    when at most T on both (a dead channel, std 0, is inactive).

    Args:
        rgb_abs_mean: float [C] mean |activation| of each channel over RGB inputs.
        ir_abs_mean: float [C] the same over IR inputs.
        std: float [C] standard deviation of each channel's activations.
        threshold: the factor of std, e.g. 0.01 (strict) or 0.05 (loose).

    Returns:
        {"rgb_specific", "ir_specific", "shared", "inactive"} -> fraction in [0, 1]; they sum
        to 1.
    """
    arrays = [np.asarray(a, np.float64) for a in (rgb_abs_mean, ir_abs_mean, std)]
    shapes = {a.shape for a in arrays}
    if len(shapes) != 1 or arrays[0].ndim != 1 or arrays[0].size == 0:
        raise ValueError(
            "rgb_abs_mean, ir_abs_mean and std must be non-empty 1-D arrays of one length, got "
            f"shapes {[a.shape for a in arrays]}"
        )
    if not threshold > 0:
        raise ValueError(f"threshold must be positive, got {threshold}")
    if np.any(arrays[2] < 0) or not np.all(np.isfinite(np.stack(arrays))):
        raise ValueError("std must be >= 0 and every value finite")
    limit = threshold * arrays[2]
    quiet_on_rgb, quiet_on_ir = arrays[0] <= limit, arrays[1] <= limit
    kinds = {
        "rgb_specific": quiet_on_ir & ~quiet_on_rgb,
        "ir_specific": quiet_on_rgb & ~quiet_on_ir,
        "shared": ~quiet_on_rgb & ~quiet_on_ir,
        "inactive": quiet_on_rgb & quiet_on_ir,
    }
    return {kind: float(np.mean(mask)) for kind, mask in kinds.items()}


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
        raise ValueError(f"backbone part {stage.name!r} has no ReLU layer to analyse")
    prefix = part_prefix(stage)
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


def proportions_table(
    statistics: Sequence[LayerStatistics], thresholds: dict = THRESHOLDS
) -> list[dict]:
    """One row per layer: layer, depth (1 = nearest the input), channels, and for every
    threshold name t and kind k the column f"{t}_{k}"."""
    rows = []
    for depth, layer in enumerate(statistics, start=1):
        row = {"layer": layer.name, "depth": depth, "channels": len(layer.std)}
        for name, factor in thresholds.items():
            kinds = domain_specific_proportions(
                layer.rgb_abs_mean, layer.ir_abs_mean, layer.std, factor
            )
            row.update({f"{name}_{kind}": value for kind, value in kinds.items()})
        rows.append(row)
    return rows


def write_csv(rows: Sequence[dict], path: str) -> None:
    def write(f):
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)

    atomic_write(path, write)


def format_table(rows: Sequence[dict], thresholds: Sequence[str] = tuple(THRESHOLDS)) -> str:
    """The proportions in percent: a two-line header, then one line per layer."""
    labels = {"rgb_specific": "RGB", "ir_specific": "IR", "shared": "shared", "inactive": "inact."}
    width = 8 * len(KINDS)
    titles = [f"{t} (T = {THRESHOLDS.get(t, '?')} std), %" for t in thresholds]
    top = "".join(f" |{title:>{width}s}" for title in titles)
    kinds = "".join(" |" + "".join(f"{labels[k]:>8s}" for k in KINDS) for _ in thresholds)
    lines = [f"{'layer':16s} {'ch':>5s}{top}", f"{'':22s}{kinds}"]
    for row in rows:
        cells = "".join(
            " |" + "".join(f"{100 * row[f'{t}_{k}']:8.1f}" for k in KINDS) for t in thresholds
        )
        lines.append(f"{row['layer']:16s} {row['channels']:5d}{cells}")
    return "\n".join(lines)


def plot_proportions(rows: Sequence[dict], path: str, thresholds=tuple(THRESHOLDS)) -> None:
    """A PNG like Fig. 8: per threshold, the proportion of each kind of node against depth."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(5 * len(thresholds), 4), dpi=100)
    FigureCanvasAgg(figure)
    depth = [row["depth"] for row in rows]
    for index, name in enumerate(thresholds):
        axes = figure.add_subplot(1, len(thresholds), index + 1)
        specific = [row[f"{name}_rgb_specific"] + row[f"{name}_ir_specific"] for row in rows]
        axes.plot(depth, specific, "k-o", label="domain-specific (RGB + IR)")
        for kind, style in (("rgb_specific", "r--"), ("ir_specific", "b--"), ("shared", "g:")):
            axes.plot(depth, [row[f"{name}_{kind}"] for row in rows], style, label=kind)
        axes.set_xticks(depth, [row["layer"] for row in rows], rotation=90, fontsize=7)
        axes.set_ylim(-0.02, 1.02)
        axes.set_ylabel("proportion of nodes")
        axes.set_title(f"{name}: T = {THRESHOLDS.get(name, '?')} std")
        axes.legend(fontsize=7)
    figure.tight_layout()
    atomic_write(path, lambda f: figure.savefig(f, format="png"), binary=True)
