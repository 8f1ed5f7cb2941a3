"""Batch-hard triplet loss (Hermans, Beyer, Leibe 2017) and its cross-modality form.

Anchors without a positive or a negative in their target set contribute exactly 0 (see
`tfreid.losses.pairwise.hardest_triplet`).
"""

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


def cross_modality_triplet(labels, features, target_labels, target_features, margin) -> tf.Tensor:
    """Unidirectional cross-modality hard triplet L_{m1->m2} (base-derivative, Eq. 3-5).

    For every anchor i of the first set: [margin + max_j d(i, j) - min_k d(i, k)]+ with d the
    Euclidean distance, j over the target images of i's identity and k over the target images
    of every other identity. L_{m1<-m2} is the same call with the two sets swapped.

    Eq. 5 writes the negative term as min_j (S * (1 - V))[i, j], which is 0 whenever the
    anchor has a positive in the target set (its masked-out entries are zeros); the min here
    runs over the negatives only. The masked max of Eq. 5 needs no such fix: distances are
    >= 0, so it equals the max over the positives whenever there is one.

    Anchors without a positive or without a negative among the targets contribute exactly 0
    (the literal Eq. 5 would give them [margin - 0]+ or a term against masked zeros).

    Args:
        labels: int [N] identities of the anchors (modality m1).
        features: float [N, D] anchor embeddings.
        target_labels: int [M] identities of the targets (modality m2).
        target_features: float [M, D] target embeddings.
        margin: the margin α2 (0.5 in the base-derivative paper). No default: the papers using
            this loss do not share one.

    Returns:
        float32 [N] per-anchor losses (float64 if `features` is float64).
    """
    features = as_float(features)
    target_features = ops.cast(as_float(target_features), features.dtype)
    distances = pairwise_distance(features, target_features)
    positives = same_identity(labels, target_labels)
    return hardest_triplet(distances, positives, ops.logical_not(positives), margin)
