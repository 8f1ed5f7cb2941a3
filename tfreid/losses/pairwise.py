"""Distances and mining helpers shared by the metric losses.

Every helper takes a set of anchors and a target set, so the same code serves the batch-hard
triplet (target = the batch itself), the cross-modality triplet (target = the other modality)
and the hard pentaplet loss.
"""

import keras
import tensorflow as tf
from keras import ops


def as_float(x) -> tf.Tensor:
    """Casts to float32 (losses are computed in float32 even under mixed precision).

    float64 is kept as is, so that gradient checks can run in double precision.
    """
    x = ops.convert_to_tensor(x)
    if keras.backend.standardize_dtype(x.dtype) == "float64":
        return x
    return ops.cast(x, "float32")


def pairwise_squared_distance(x, y) -> tf.Tensor:
    """Squared Euclidean distances between the rows of `x` and the rows of `y`.

    Args:
        x: float [N, D].
        y: float [M, D].

    Returns:
        float [N, M], clipped at 0 (the expansion |x|² + |y|² - 2 x·y can round below 0).
    """
    x_norm = ops.sum(ops.square(x), axis=1, keepdims=True)
    y_norm = ops.sum(ops.square(y), axis=1, keepdims=True)
    dot = ops.matmul(x, ops.transpose(y))
    return ops.maximum(x_norm + ops.transpose(y_norm) - 2.0 * dot, 0.0)


def pairwise_distance(x, y) -> tf.Tensor:
    """Euclidean (not squared) distances with a finite gradient at distance 0.

    The derivative of sqrt is infinite at 0, which would turn the gradient of every pair of
    identical points (always the anchor with itself) into NaN; those pairs get gradient 0.

    Args:
        x: float [N, D].
        y: float [M, D].

    Returns:
        float [N, M].
    """
    squared = pairwise_squared_distance(x, y)
    is_zero = ops.less_equal(squared, 0.0)
    safe = ops.where(is_zero, ops.ones_like(squared), squared)
    return ops.where(is_zero, ops.zeros_like(squared), ops.sqrt(safe))


def same_identity(labels, target_labels) -> tf.Tensor:
    """bool [N, M]: True where anchor i and target j share an identity.

    Args:
        labels: int [N] identities of the anchors.
        target_labels: int [M] identities of the targets.
    """
    labels = ops.reshape(labels, (-1, 1))
    target_labels = ops.reshape(target_labels, (1, -1))
    return ops.equal(labels, target_labels)


def hardest_positive(distances, positive_mask) -> tf.Tensor:
    """Largest distance to a positive, per anchor; -inf where an anchor has none.

    Args:
        distances: float [N, M].
        positive_mask: bool [N, M].

    Returns:
        float [N].
    """
    masked = ops.where(positive_mask, distances, ops.full_like(distances, -float("inf")))
    return ops.max(masked, axis=1)


def hardest_negative(distances, negative_mask) -> tf.Tensor:
    """Smallest distance to a negative, per anchor; +inf where an anchor has none.

    Args:
        distances: float [N, M].
        negative_mask: bool [N, M].

    Returns:
        float [N].
    """
    masked = ops.where(negative_mask, distances, ops.full_like(distances, float("inf")))
    return ops.min(masked, axis=1)
