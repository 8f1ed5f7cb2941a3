"""Batch-hard triplet loss (Hermans, Beyer, Leibe 2017)."""

import tensorflow as tf
from keras import ops

from tfreid.losses.pairwise import as_float, hardest_triplet, pairwise_distance, same_identity


def batch_hard_triplet(labels, features, margin: float = 0.3) -> tf.Tensor:
    """Batch-hard triplet loss (Hermans, Beyer, Leibe 2017), one value per anchor.

    For every anchor a: [margin + max_p d(a, p) - min_n d(a, n)]+ with d the Euclidean
    distance, p over the anchor's identity (the anchor itself included, at distance 0) and
    n over every other identity. An anchor with no negative in the batch contributes 0.

    Args:
        labels: int [N] identities.
        features: float [N, D] embeddings.
        margin: the margin α.

    Returns:
        float32 [N] per-anchor losses (float64 if `features` is float64).
    """
    features = as_float(features)
    distances = pairwise_distance(features, features)
    positives = same_identity(labels, labels)
    return hardest_triplet(distances, positives, ops.logical_not(positives), margin)
