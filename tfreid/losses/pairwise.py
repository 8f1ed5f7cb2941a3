"""Distances and mining helpers shared by the metric losses.

Every helper takes a set of anchors and a target set, so the same code serves the batch-hard
triplet (target = the batch itself), the cross-modality triplet (target = the other modality)
and the hard pentaplet loss.

An anchor with no positive or no negative in its target set has no triplet: `hardest_triplet`
gives it exactly 0 (and gradient 0), never inf or NaN. The hardest positive is then -inf or
the hardest negative +inf, so margin + positive - negative is -inf (never inf - inf) and the
hinge clips it to 0.
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


def hardest_triplet(distances, positive_mask, negative_mask, margin: float) -> tf.Tensor:
    """[margin + hardest positive - hardest negative]+ per anchor.

    Args:
        distances: float [N, M] anchor-to-target distances.
        positive_mask: bool [N, M], the targets that count as positives of each anchor.
        negative_mask: bool [N, M], the targets that count as negatives of each anchor.
        margin: the margin α.

    Returns:
        float [N]; exactly 0 for an anchor without a positive or without a negative.
    """
    positive = hardest_positive(distances, positive_mask)
    negative = hardest_negative(distances, negative_mask)
    return ops.relu(margin + positive - negative)
