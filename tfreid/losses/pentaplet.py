"""Hard pentaplet (HP) loss of HPILN (IET Image Processing 2019, Eq. 4-6).

For every anchor a of a cross-modality batch, with d the Euclidean distance (not squared):

- hard global triplet (HGT, Eq. 4): hardest positive over the OTHER images of a's identity,
  both modalities (a itself excluded by position, so a duplicate image of a still counts);
  hardest negative over every image of another identity, both modalities;
- hard cross-modality triplet (HCT, Eq. 5): hardest positive over a's identity in the other
  modality, hardest negative over the other identities in the other modality (the printed
  index sets of Eq. 5 have typos; this is the intended reading, see docs/methods/hpiln.md);

and the per-anchor HP value is hgt_a + hct_a, so the mean over anchors is Eq. 6.

Anchors whose triplet is missing from the batch: a term whose positive or negative set is
empty is exactly 0 for that anchor (with gradient 0), never inf or NaN. In a P x (K RGB + K IR)
cm-batch with P >= 2 and K >= 1 every set exists (HGT's positives need 2K - 1 >= 1), so this
only matters for degenerate batches: an identity with a single image (no HGT), an identity
seen in one modality only (no HCT), a single-modality batch (no HCT at all) or a single
identity (no negatives). Unlike `batch_hard_triplet`, whose hardest positive may be the anchor
itself, an identity with a single image gets no HGT value rather than [α - min d(a, n)]+.
"""

import tensorflow as tf
from keras import ops

from tfreid.losses.pairwise import as_float, hardest_triplet, pairwise_distance, same_identity


def hard_pentaplet_terms(
    labels, features, modalities, margin: float = 0.3
) -> tuple[tf.Tensor, tf.Tensor]:
    """The two triplet terms of the HP loss, per anchor (Eq. 4 and Eq. 5).

    Args:
        labels: int [N] identities.
        features: float [N, D] embeddings.
        modalities: int [N], 0 = RGB, 1 = IR.
        margin: the margin α, shared by both terms.

    Returns:
        (hgt, hct), each float32 [N] (float64 if `features` is float64); 0 where the term's
        positives or negatives are missing from the batch (see the module docstring).
    """
    features = as_float(features)
    distances = pairwise_distance(features, features)
    same = same_identity(labels, labels)
    different = ops.logical_not(same)
    positions = ops.arange(ops.shape(features)[0])
    not_self = ops.not_equal(positions[:, None], positions[None, :])
    modalities = ops.reshape(modalities, (-1,))
    cross = ops.not_equal(modalities[:, None], modalities[None, :])
    hgt = hardest_triplet(distances, ops.logical_and(same, not_self), different, margin)
    hct = hardest_triplet(
        distances, ops.logical_and(same, cross), ops.logical_and(different, cross), margin
    )
    return hgt, hct


def hard_pentaplet(labels, features, modalities, margin: float = 0.3) -> tf.Tensor:
    """Hard pentaplet loss, one value hgt_a + hct_a per anchor (Eq. 6 is their mean).

    Args:
        labels: int [N] identities.
        features: float [N, D] embeddings.
        modalities: int [N], 0 = RGB, 1 = IR.
        margin: the margin α (HPILN searches {0.3, 0.6, ..., 1.8}).

    Returns:
        float32 [N] per-anchor losses (float64 if `features` is float64).
    """
    hgt, hct = hard_pentaplet_terms(labels, features, modalities, margin)
    return hgt + hct
