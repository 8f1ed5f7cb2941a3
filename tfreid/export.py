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
import tempfile

import keras
import tensorflow as tf

from tfreid.config import DataConfig
from tfreid.data.augment import normalize, resize
from tfreid.methods.base import Parts

SIGNATURE = [
    tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
    tf.TensorSpec([None], tf.int32, name="modality"),
]


def embedding_function(parts: Parts, data_cfg: DataConfig):
    """tf.function(image uint8 [B, H, W, 3], modality int32 [B]) -> float32 [B, D]."""

    @tf.function(input_signature=SIGNATURE)
    def serve(image, modality):
        images = resize(tf.cast(image, tf.float32), data_cfg.height, data_cfg.width)
        images = normalize(images, data_cfg.mean, data_cfg.std)
        return tf.cast(parts.serving.embed(images, modality, training=False), tf.float32)

    return serve


def export_saved_model(parts: Parts, data_cfg: DataConfig, output_dir: str) -> str:
    """Writes the SavedModel atomically: a temporary sibling directory, then a rename."""
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
    staging = tempfile.mkdtemp(prefix=".saved_model-", dir=parent)
    try:
        archive.write_out(staging, verbose=False)
        if os.path.exists(output_dir):
            retired = tempfile.mkdtemp(prefix=".retired-", dir=parent)
            os.replace(output_dir, os.path.join(retired, "old"))
            os.replace(staging, output_dir)
            shutil.rmtree(retired)
        else:
            os.replace(staging, output_dir)
    finally:
        if os.path.exists(staging):
            shutil.rmtree(staging)
    return output_dir
