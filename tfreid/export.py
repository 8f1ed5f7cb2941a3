"""The serving embedding function and its SavedModel export.

Evaluation in-process and the exported SavedModel run the same function: uint8 images of any
size and a modality per image -> resize, normalise, the serving network's embedding
(`Parts.serving`). So a SavedModel reproduces the numbers of the run that wrote it, and it holds
the serving network only (a GAN's generators and discriminators, a teacher, the derivative
stems of the base-derivative framework stay out of it).
"""

from __future__ import annotations

import os
import shutil

import keras
import tensorflow as tf

from tfreid.config import DataConfig
from tfreid.data.augment import normalize, resize
from tfreid.files import (
    RETIRED,
    check_writable,
    owned_temp_dir,
    remove_abandoned,
    replace_directory,
)
from tfreid.methods.base import Parts

STAGING = ".saved_model-"  # the prefix of the directory a SavedModel is written to first
# The channel count is left open so that the function itself can check it and name it (a
# declared 3 makes TensorFlow refuse a 4-channel batch with a message that prints the whole
# array, or fail later in an unrelated op where no Python-side check runs).
SIGNATURE = [
    tf.TensorSpec([None, None, None, None], tf.uint8, name="image"),
    tf.TensorSpec([None], tf.int32, name="modality"),
]


def embedding_function(parts: Parts, data_cfg: DataConfig):
    """tf.function(image uint8 [B, H, W, 3 or 1], modality int32 [B]) -> float32 [B, D].

    The inputs are checked inside the function, so a SavedModel user gets the same clear
    error: an image with other than 3 (RGB) or 1 (gray) channels, modality values other than
    0 (RGB) and 1 (IR), or a batch of modalities whose size is not the batch of images, raise
    InvalidArgumentError. A 1-channel image is gray: its channel is repeated, as the input
    pipeline decodes a gray file. An empty batch gives [0, D].
    """

    @tf.function(input_signature=SIGNATURE)
    def serve(image, modality):
        count = tf.shape(image)[0]
        checks = [
            _channel_check(image),
            tf.debugging.assert_equal(
                tf.shape(modality)[0],
                count,
                message="image and modality must have the same batch size (one modality per image)",
            ),
            tf.debugging.Assert(
                tf.reduce_all((modality == 0) | (modality == 1)),
                ["modality must be 0 (RGB) or 1 (IR) for every image, got", modality],
                summarize=8,
            ),
        ]
        with tf.control_dependencies(checks):
            # An empty batch runs one blank image, of which no row is returned.
            empty = tf.equal(count, 0)
            image = tf.cond(empty, lambda: tf.zeros([1, 1, 1, 3], tf.uint8), lambda: image)
            modality = tf.cond(empty, lambda: tf.zeros([1], tf.int32), lambda: modality)
            image = _gray_to_rgb(image)
        images = resize(tf.cast(image, tf.float32), data_cfg.height, data_cfg.width)
        images = normalize(images, data_cfg.mean, data_cfg.std)
        embedding = parts.serving.embed(images, modality, training=False)
        return tf.cast(embedding, tf.float32)[:count]

    return serve


def _channel_check(image: tf.Tensor) -> tf.Operation:
    channels = tf.shape(image)[3]
    message = "image must be [batch, height, width, channels] with 3 channels (RGB) or 1 (gray)"
    return tf.debugging.Assert(
        (channels == 3) | (channels == 1), [f"{message}, got channels =", channels]
    )


def _gray_to_rgb(image: tf.Tensor) -> tf.Tensor:
    """[B, H, W, 1 or 3] -> [B, H, W, 3]: a gray image's channel repeated (3 channels pass)."""
    rgb = tf.broadcast_to(image, tf.concat([tf.shape(image)[:3], [3]], axis=0))
    rgb.set_shape(image.shape[:3].concatenate([3]))
    return rgb


def check_export_target(output_dir: str, overwrite: bool = False) -> None:
    """Fails, before any work, unless `output_dir` may receive the SavedModel: a new path, an
    empty directory, or (only with `overwrite`) an existing SavedModel. Anything else there (a
    file, a directory of other content, a run's work dir) is never replaced.

    Raises:
        FileExistsError: naming what is at `output_dir`.
        OSError: the path cannot be written (see `tfreid.files.check_writable`).
    """
    path = os.path.abspath(output_dir)
    if os.path.isdir(path) and tf.saved_model.contains_saved_model(path):
        if not overwrite:
            raise FileExistsError(
                f"{output_dir} already holds a SavedModel; pass --overwrite to replace it"
            )
    elif os.path.isdir(path) and os.listdir(path):
        raise FileExistsError(
            f"{output_dir} is a directory that is not a SavedModel; an export replaces only a "
            "SavedModel, choose a new path"
        )
    elif os.path.lexists(path) and not os.path.isdir(path):
        raise FileExistsError(
            f"{output_dir} exists and is not a directory; an export replaces only a SavedModel, "
            "choose a new path"
        )
    check_writable(os.path.dirname(path), "the folder of SavedModel", directory=True)


def export_saved_model(
    parts: Parts, data_cfg: DataConfig, output_dir: str, overwrite: bool = False
) -> str:
    """Writes the SavedModel atomically (a temporary sibling directory, then a rename), with
    the permissions the user's umask gives; see `check_export_target` for what it replaces."""
    check_export_target(output_dir, overwrite)
    output_dir = os.path.abspath(output_dir)
    parent = os.path.dirname(output_dir)
    os.makedirs(parent, exist_ok=True)
    archive = keras.export.ExportArchive()
    archive.track(parts.serving)
    embed = embedding_function(parts, data_cfg)
    archive.add_endpoint(
        "serving_default",
        tf.function(lambda image, modality: {"embedding": embed(image, modality)}),
        input_signature=SIGNATURE,
    )
    for prefix in (STAGING, RETIRED):  # what an export killed with -9 left
        remove_abandoned(parent, prefix)
    staging = owned_temp_dir(parent, STAGING)
    try:
        archive.write_out(staging, verbose=False)
        replace_directory(staging, output_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return output_dir
