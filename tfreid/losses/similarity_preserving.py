"""(Focal) modality-aware similarity-preserving loss, Wu et al., IJCV 2020, Eq. 2-6.

Within a batch, two nearest-neighbour classifiers score a feature against one column per
identity: C1(f) = W1ᵀf over RGB columns, C2(f) = W2ᵀf over IR columns (Eq. 2). For every
cross-modality positive pair (i RGB, j IR, same identity y) the loss asks the cross-modality
scores to match the same-modality ones (Eq. 3):

    |C1(f_i) - C1(f_j)|² + |C2(f_j) - C2(f_i)|²

and the focal version (Eq. 4-6) weights the two terms by the confidences
p1 = softmax(C1(f_i))[y]·softmax(C1(f_j))[y] and p2 = softmax(C2(f_j))[y]·softmax(C2(f_i))[y].

Choices the paper leaves open, made here (docs/methods/ijcv2020.md, S1-S7):
- The classifiers range over the identities that have samples of both modalities in the batch
  (Eq. 5 sums both softmaxes over the same K identities).
- A column of W_m stands for identity k in modality m. By default (`prototype="mean"`,
  docs/methods/ijcv2020.md, S3) it is the L2-normalised mean of identity k's modality-m
  features in the batch. The paper's wording, "a feature vector of a sample of ID k"
  (Sec. 3.1), is `prototype="sample"`: the first sample of identity k and modality m in batch
  order (the sampler shuffles, so this is a random sample of the identity).
- The confidences are weights: no gradient flows through them (otherwise the cheapest way to
  lower the loss is to make the classifiers less confident).
"""

import tensorflow as tf

from tfreid.losses.pairwise import as_float

PROTOTYPES = ("sample", "mean")


def identity_prototypes(features, identity_index, num_identities, in_modality, prototype):
    """One column per identity for one modality's classifier.

    Args:
        features: float [N, D], L2-normalised.
        identity_index: int32 [N], each sample's position in the list of batch identities.
        num_identities: int32 scalar, the number of batch identities U.
        in_modality: bool [N], the samples of this modality.
        prototype: "sample" or "mean" (see the module docstring).

    Returns:
        (float [U, D] prototypes, bool [U] whether the identity has a sample of this modality).
        Rows of absent identities are meaningless.
    """
    members = tf.logical_and(
        tf.one_hot(identity_index, num_identities, on_value=True, off_value=False),
        in_modality[:, None],
    )
    present = tf.reduce_any(members, axis=0)
    if prototype == "mean":
        weights = tf.cast(members, features.dtype)
        sums = tf.matmul(weights, features, transpose_a=True)
        return tf.math.l2_normalize(sums, axis=1), present
    num_samples = tf.shape(features)[0]
    positions = tf.range(num_samples)[:, None]
    first = tf.reduce_min(tf.where(members, positions, num_samples), axis=0)
    return tf.gather(features, tf.minimum(first, num_samples - 1)), present


def cross_modality_pairs(labels, modalities) -> tf.Tensor:
    """int64 [P, 2]: every (i, j) with i RGB (modality 0), j IR (modality 1), same identity."""
    same = tf.equal(labels[:, None], labels[None, :])
    rgb_ir = tf.logical_and(tf.equal(modalities, 0)[:, None], tf.equal(modalities, 1)[None, :])
    return tf.where(tf.logical_and(same, rgb_ir))


def _confidence(scores, first, second, column):
    """softmax(scores[first])[column] · softmax(scores[second])[column] per pair (Eq. 4-5)."""
    probabilities = tf.nn.softmax(scores, axis=1)
    index = tf.stack([first, column], axis=1)
    other = tf.stack([second, column], axis=1)
    confidence = tf.gather_nd(probabilities, index) * tf.gather_nd(probabilities, other)
    return tf.stop_gradient(confidence)


def similarity_preserving(
    labels, features, modalities, focal: bool = True, prototype: str = "mean"
) -> tf.Tensor:
    """Per-pair (F)MSP loss: Eq. 6 terms if `focal`, else Eq. 3 terms.

    Args:
        labels: int [N] identities.
        features: float [N, D] embeddings (L2-normalised here; the paper matches by cosine).
        modalities: int [N], 0 = RGB, 1 = IR.
        focal: weight the terms by the stop-gradient confidences p1, p2 (Eq. 6).
        prototype: how a classifier column is formed: "mean" (the default, S3) or
            "sample" (see the module docstring).

    Returns:
        float32 [P] one value per cross-modality positive pair, in (RGB index, IR index)
        order; P is dynamic and may be 0 (float64 if `features` is float64). The dynamic
        shapes run under `tf.function` but not with XLA (`jit_compile=True`).
    """
    if prototype not in PROTOTYPES:
        raise ValueError(f"prototype must be one of {PROTOTYPES}; received {prototype!r}")
    features = tf.math.l2_normalize(as_float(features), axis=1)
    labels = tf.reshape(labels, [-1])
    modalities = tf.reshape(modalities, [-1])
    identities, identity_index = tf.unique(labels, out_idx=tf.int32)
    num_identities = tf.size(identities)

    columns = []
    for modality in (0, 1):
        in_modality = tf.equal(modalities, modality)
        columns.append(
            identity_prototypes(features, identity_index, num_identities, in_modality, prototype)
        )
    (rgb_columns, has_rgb), (ir_columns, has_ir) = columns
    shared = tf.logical_and(has_rgb, has_ir)
    kept = tf.where(shared)[:, 0]
    scores_1 = tf.matmul(features, tf.gather(rgb_columns, kept), transpose_b=True)  # C1, [N, K]
    scores_2 = tf.matmul(features, tf.gather(ir_columns, kept), transpose_b=True)  # C2, [N, K]

    pairs = cross_modality_pairs(labels, modalities)
    rgb, ir = tf.cast(pairs[:, 0], tf.int32), tf.cast(pairs[:, 1], tf.int32)
    term_1 = tf.reduce_sum(tf.square(tf.gather(scores_1, rgb) - tf.gather(scores_1, ir)), axis=1)
    term_2 = tf.reduce_sum(tf.square(tf.gather(scores_2, ir) - tf.gather(scores_2, rgb)), axis=1)
    if not focal:
        return term_1 + term_2
    column_of_identity = tf.cumsum(tf.cast(shared, tf.int32)) - 1
    column = tf.gather(column_of_identity, tf.gather(identity_index, rgb))
    p_1 = _confidence(scores_1, rgb, ir, column)
    p_2 = _confidence(scores_2, ir, rgb, column)
    return p_1 * term_1 + p_2 * term_2
