"""Does an export compute what its reference computes? Embeddings of the config's test images
compared, image by image, at several sizes and batch sizes.

The images are real test images of the config's data set (half RGB, half IR, spread over the
ids), decoded as the pipeline decodes them, and fed (1) one at a time at their own size,
(2) together at the model's input size and (3) together at 1.5 times it, so that batching,
the in-graph resize and both modalities are exercised. The figures: the largest absolute
difference of any embedding value, and the smallest cosine similarity between an image's two
embeddings. An export passes when that cosine is at least the bound (docs/export.md).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import numpy as np
import tensorflow as tf

from tfreid.config import DataConfig
from tfreid.data.datasets import test_samples
from tfreid.data.pipeline import decode_image
from tfreid.data.samples import IR, RGB, Sample
from tfreid.errors import ParityError
from tfreid.figures.ranked_lists import spread_indices
from tfreid.files import atomic_write

# Both sides compute in float32 (or both in the same precision): rounding differences only.
MIN_COSINE = 0.9999
# A bfloat16 model (the SavedModel of a bfloat16 run) against its float32 export: bfloat16
# keeps 8 bits of mantissa, measured cosines 0.9985-0.9998 on the quickstart model
# (docs/export.md); 0.995 leaves room for deeper networks and still fails a wrong graph
# (a wrong resize, normalisation or modality route gives cosines below 0.99).
MIN_COSINE_BFLOAT16 = 0.995
PARITY_IMAGES = 8

EmbedFn = Callable[[np.ndarray, np.ndarray], object]


def parity_samples(data_cfg: DataConfig, count: int = PARITY_IMAGES) -> list[Sample]:
    """`count` test images of the config's data set, half of each modality, spread evenly."""
    samples = test_samples(data_cfg)
    chosen = []
    for modality in (RGB, IR):
        group = [s for s in samples if s.modality == modality]
        chosen += [group[i] for i in spread_indices(len(group), count // 2)] if group else []
    return chosen


def parity_batches(
    samples: list[Sample], data_cfg: DataConfig
) -> Iterator[tuple[str, np.ndarray, np.ndarray]]:
    """(description, uint8 [B, H, W, 3] images, int32 [B] modalities): each image at its own
    size, then all of them at the model's size and at 1.5 times it."""
    images = [decode_image(tf.constant(s.path), tf.constant(s.modality)) for s in samples]
    modality = np.array([s.modality for s in samples], np.int32)
    for image, sample in zip(images, samples, strict=True):
        yield "own size, batch 1", image.numpy()[None], np.array([sample.modality], np.int32)
    for scale in (1.0, 1.5):
        size = (round(scale * data_cfg.height), round(scale * data_cfg.width))
        resized = [tf.image.resize(i, size, "bilinear", antialias=True) for i in images]
        batch = np.clip(np.round(np.stack(resized)), 0, 255).astype(np.uint8)
        yield f"{size[0]}x{size[1]}, batch {len(samples)}", batch, modality


def compare(
    reference: EmbedFn, candidate: EmbedFn, samples: list[Sample], data_cfg: DataConfig
) -> dict:
    """The parity figures of `candidate` against `reference` on `samples`."""
    expected, got, settings = [], [], []
    for description, image, modality in parity_batches(samples, data_cfg):
        expected.append(np.asarray(reference(image, modality), np.float64))
        got.append(np.asarray(candidate(image, modality), np.float64))
        if got[-1].shape != expected[-1].shape:
            raise ParityError(
                f"the export returned {got[-1].shape} embeddings for {description}, expected "
                f"{expected[-1].shape}"
            )
        settings.append(description)
    expected, got = np.concatenate(expected), np.concatenate(got)
    cosines = (got * expected).sum(axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )
    # A NaN (a broken export) stays NaN in both figures, so that every comparison fails.
    return {
        "images": [s.path for s in samples],
        "settings": list(dict.fromkeys(settings)),
        "embeddings_compared": len(cosines),
        "max_abs_difference": float(np.max(np.abs(got - expected))),
        "min_cosine": float(np.min(cosines)),
    }


def check(report: dict, what: str) -> None:
    """Raises ParityError unless `report["min_cosine"]` reaches `report["bound"]`."""
    if not report["min_cosine"] >= report["bound"]:
        raise ParityError(
            f"{what} differs from {report['reference']}: min cosine {report['min_cosine']:.6f} "
            f"< {report['bound']} (max abs difference {report['max_abs_difference']:.3g}); "
            "nothing was written"
        )


def write_report(path: str, report: dict) -> None:
    atomic_write(path, lambda f: f.write(json.dumps(report, indent=2) + "\n"))
