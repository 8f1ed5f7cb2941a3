"""tf.data input pipelines: cross-modality training batches and evaluation batches.

Training batches are {"rgb": {...}, "ir": {...}} with the same identities in the same order in
both modalities; the whole stream is a pure function of (seed, global step), see sampling.py.
Images always have 3 channels: IR images become 3 equal channels and the per-method channel
encodings are model layers.
"""

from __future__ import annotations

from collections.abc import Sequence

import tensorflow as tf

from tfreid.config import DataConfig
from tfreid.data.augment import resize, train_augment
from tfreid.data.samples import IR, Sample
from tfreid.data.sampling import build_index, group_dataset, steps_per_epoch, training_pids

__all__ = ["decode_image", "eval_dataset", "steps_per_epoch", "train_dataset", "training_pids"]

IMAGE_MAGIC = {"JPEG": b"\xff\xd8\xff", "PNG": b"\x89PNG\r\n\x1a\n", "BMP": b"BM"}


def decode_image(path: tf.Tensor, modality: tf.Tensor) -> tf.Tensor:
    """Reads a JPEG, PNG or BMP file with 1, 3 or 4 channels as a 3-channel image.

    An IR image carries one intensity, so a 3-channel IR file's channels are averaged (exactly
    the stored value when they are equal) and repeated: every IR image reaches the model as 3
    equal channels.

    Args:
        path: string scalar.
        modality: int scalar, RGB (0) or IR (1).

    Returns:
        uint8 [h, w, 3].
    """
    contents = tf.io.read_file(path)
    known = tf.reduce_any(
        [tf.strings.substr(contents, 0, len(magic)) == magic for magic in IMAGE_MAGIC.values()]
    )
    check = tf.debugging.Assert(known, ["not a JPEG, PNG or BMP file:", path], summarize=1)
    with tf.control_dependencies([check]):
        image = tf.io.decode_image(contents, channels=3, expand_animations=False)
    gray = tf.round(tf.reduce_mean(tf.cast(image, tf.float32), axis=-1, keepdims=True))
    gray = tf.cast(tf.repeat(gray, 3, axis=-1), tf.uint8)
    return tf.where(tf.equal(modality, IR), gray, image)


class _SampleTensors:
    """Per-sample paths, camids and modalities as constant tensors for gathering."""

    def __init__(self, samples: Sequence[Sample]):
        if not samples:
            raise ValueError("no samples given")
        self.paths = tf.constant([str(s.path) for s in samples], tf.string)
        self.camids = tf.constant([s.camid for s in samples], tf.int32)
        self.modalities = tf.constant([s.modality for s in samples], tf.int32)


def train_dataset(
    samples: Sequence[Sample],
    cfg: DataConfig,
    *,
    seed: int,
    input_context: tf.distribute.InputContext | None = None,
    start_step: int = 0,
) -> tf.data.Dataset:
    """Infinite stream of augmented P x (K RGB + K IR) batches from global step `start_step` on.

    Only identities with both RGB and IR images are used. With `input_context` (from
    `strategy.distribute_datasets_from_function`) the batches are per replica: P_r = P /
    num_replicas_in_sync identities each, whole groups, distinct within a global batch.

    Args:
        samples: the training samples.
        cfg: image size, P, K and augmentation settings.
        seed: the run's seed; identities, images and augmentation all follow from it.
        input_context: the tf.distribute input context, or None for global batches.
        start_step: the first global step to produce (a resumed run does not replay data).

    Returns:
        A dataset of {"rgb": {"image": float32 [P_r*K, H, W, 3] normalised, "pid": int32
        [P_r*K] training label (index into `training_pids(samples)`), "camid": int32
        [P_r*K]}, "ir": {...the same...}}, identity-major, same identities in both modalities.
    """
    tensors = _SampleTensors(samples)
    context = input_context or tf.distribute.InputContext()
    groups = group_dataset(
        build_index(samples),
        cfg.identities_per_batch,
        cfg.images_per_identity,
        seed=seed,
        num_replicas=context.num_replicas_in_sync,
        num_pipelines=context.num_input_pipelines,
        pipeline_id=context.input_pipeline_id,
        start_step=start_step,
    )
    batch_size = cfg.identities_per_batch * cfg.images_per_identity
    group_size = batch_size // context.num_replicas_in_sync

    def to_images(group):
        # Seeds use the position in the global batch, so the global batch's content does not
        # depend on the number of replicas.
        positions = group["replica"] * group_size + tf.range(group_size)
        return {
            "index": tf.concat([group["rgb"], group["ir"]], 0),
            "label": tf.concat([group["label"], group["label"]], 0),
            "position": tf.concat([positions, batch_size + positions], 0),
            "step": tf.fill([2 * group_size], group["step"]),
        }

    images = (
        groups.map(to_images)
        .unbatch()
        .map(
            lambda item: _load_train_image(item, tensors, cfg, seed),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
    )
    batches = images.batch(2 * group_size, drop_remainder=True).map(
        lambda batch: {
            "rgb": {key: value[:group_size] for key, value in batch.items()},
            "ir": {key: value[group_size:] for key, value in batch.items()},
        }
    )
    return batches.prefetch(tf.data.AUTOTUNE)


def _load_train_image(item: dict, tensors: _SampleTensors, cfg: DataConfig, seed: int) -> dict:
    modality = tf.gather(tensors.modalities, item["index"])
    image = decode_image(tf.gather(tensors.paths, item["index"]), modality)
    image = resize(image, cfg.height, cfg.width)
    base = tf.stack([tf.constant(seed, tf.int64), item["step"]])
    image_seed = tf.random.experimental.stateless_fold_in(base, item["position"])
    return {
        "image": train_augment(image, cfg, image_seed),
        "pid": item["label"],
        "camid": tf.gather(tensors.camids, item["index"]),
    }


def eval_dataset(samples: Sequence[Sample], cfg: DataConfig, batch_size: int) -> tf.data.Dataset:
    """Decoded, resized, un-normalised images in the samples' order, last partial batch kept.

    Normalisation happens in the model's serving function, so in-process evaluation and the
    exported SavedModel see identical inputs.

    Args:
        samples: the images to embed.
        cfg: cfg.height and cfg.width are used.
        batch_size: images per batch.

    Returns:
        A dataset of {"image": uint8 [B, H, W, 3], "modality": int32 [B]}.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tensors = _SampleTensors(samples)

    def load(path, modality):
        image = resize(decode_image(path, modality), cfg.height, cfg.width)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0.0, 255.0), tf.uint8)
        return {"image": image, "modality": modality}

    images = tf.data.Dataset.from_tensor_slices((tensors.paths, tensors.modalities))
    images = images.map(load, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
    return images.batch(batch_size).prefetch(tf.data.AUTOTUNE)
