"""The serving function as ONNX and LiteRT can carry it: built-in operators only, float32.

It computes what the SavedModel's function (`tfreid.export.embedding_function`) computes --
resize, normalise, the serving network's embedding -- with three differences the target
runtimes force, each stated in docs/export.md:

- the resize is `matrix_resize` (the same antialiased bilinear filter, as matrix products);
- the input checks cannot stop the call (ONNX has no assertion operator and the LiteRT
  converter drops TensorFlow's): a row whose modality is not 0 or 1 comes out as NaN, never as
  a plausible embedding, and the runtimes themselves refuse a dtype other than uint8 and a
  channel count other than 3 (the declared input shape);
- the network computes in float32 whatever the training precision (neither runtime computes
  bfloat16 convolutions on CPUs), so a bfloat16 run's export is compared with a looser bound.
"""

from __future__ import annotations

import dataclasses

import tensorflow as tf

from tfreid.config import Config, DataConfig
from tfreid.data.augment import normalize
from tfreid.exporting.resize import matrix_resize
from tfreid.methods.base import Parts

PORTABLE_SIGNATURE = [
    tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
    tf.TensorSpec([None], tf.int32, name="modality"),
]


def float32_config(cfg: Config) -> Config:
    """`cfg` with float32 computation: the networks the portable function is built from."""
    return dataclasses.replace(cfg, train=dataclasses.replace(cfg.train, mixed_precision="none"))


def portable_function(parts: Parts, data_cfg: DataConfig):
    """tf.function(image uint8 [B, H, W, 3], modality int32 [B]) -> {"embedding": float32
    [B, D]}, NaN rows for modalities other than 0 and 1."""

    @tf.function(input_signature=PORTABLE_SIGNATURE)
    def serve(image, modality):
        images = matrix_resize(image, data_cfg.height, data_cfg.width)
        images = normalize(images, data_cfg.mean, data_cfg.std)
        embedding = tf.cast(parts.serving.embed(images, modality, training=False), tf.float32)
        valid = tf.logical_or(tf.equal(modality, 0), tf.equal(modality, 1))
        poison = tf.where(valid, 0.0, float("nan"))
        return {"embedding": embedding + poison[:, None]}

    return serve
