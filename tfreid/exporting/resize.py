"""Antialiased bilinear resizing from matrix products, for runtimes without ScaleAndTranslate.

`tf.image.resize(..., "bilinear", antialias=True)`, which the input pipeline and the SavedModel
use, runs TensorFlow's ScaleAndTranslate kernel; neither ONNX nor LiteRT's built-in operators
have it. The resize is separable and linear, so it is two matrix products with weights that
depend only on the input and output sizes: output row i is the triangle kernel (radius 1,
widened by the scale when shrinking, which is the antialiasing) centred on (i + 0.5) *
in / out in input coordinates, over pixel centres j + 0.5, normalised to sum to 1. The
weights are computed in the graph from the input's shape (Range, arithmetic, MatMul), so the
exported model takes images of any size. It matches TensorFlow's kernel to float32 rounding
(tests/exporting/test_resize.py).
"""

from __future__ import annotations

import tensorflow as tf


def resize_weights(in_size: tf.Tensor, out_size: int) -> tf.Tensor:
    """float32 [out_size, in_size]: each row the normalised triangle weights of one output.

    Args:
        in_size: int scalar, the input length along the axis.
        out_size: the output length.
    """
    in_size = tf.cast(in_size, tf.float32)
    inverse_scale = in_size / float(out_size)
    support = tf.maximum(inverse_scale, 1.0)  # the kernel widens when shrinking: antialiasing
    centres = (tf.range(float(out_size)) + 0.5) * inverse_scale
    pixels = tf.range(in_size) + 0.5
    weights = tf.maximum(0.0, 1.0 - tf.abs(pixels[None, :] - centres[:, None]) / support)
    return weights / tf.reduce_sum(weights, axis=1, keepdims=True)


def matrix_resize(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Antialiased bilinear resize of a batch, as `tf.image.resize(..., antialias=True)`.

    Args:
        images: [B, h, w, C], any real dtype, values in [0, 255].
        height: output height.
        width: output width.

    Returns:
        float32 [B, height, width, C].
    """
    images = tf.cast(images, tf.float32)
    shape = tf.shape(images)
    rows = resize_weights(shape[1], height)
    columns = resize_weights(shape[2], width)
    channels_first = tf.transpose(images, [0, 3, 1, 2])  # [B, C, h, w]
    resized = tf.matmul(tf.matmul(rows, channels_first), columns, transpose_b=True)
    return tf.transpose(resized, [0, 2, 3, 1])
