"""Identity (softmax cross-entropy) loss with label smoothing."""

import tensorflow as tf
from keras import ops

from tfreid.losses.pairwise import as_float


def identity_loss(labels, logits, label_smoothing: float = 0.0) -> tf.Tensor:
    """Softmax cross-entropy per sample (and per classifier head) against smoothed targets.

    The target is q = (1 - ε)·onehot(y) + ε/C (Szegedy et al. 2016), so the loss is
    (1 - ε)·(-log p_y) + ε·mean_k(-log p_k).

    Args:
        labels: int [N] class indices in [0, C).
        logits: float [N, C] unnormalised scores, or [N, S, C] for S classifier heads (PCB's
            stripes), each scored against the sample's label.
        label_smoothing: ε in [0, 1].

    Returns:
        float32 [N] per-sample losses, or [N, S] per sample and head (float64 if `logits` is
        float64); how heads combine (PCB sums them, HPILN averages) is the method's choice.
    """
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1]; received {label_smoothing}")
    logits = as_float(logits)
    log_probs = ops.log_softmax(logits, axis=-1)
    labels = ops.cast(labels, "int32")
    labels = ops.reshape(labels, (-1,) + (1,) * (len(logits.shape) - 1))
    if len(logits.shape) == 3:
        labels = ops.repeat(labels, logits.shape[1], axis=1)
    nll = -ops.take_along_axis(log_probs, labels, axis=-1)[..., 0]
    if label_smoothing == 0.0:
        return nll
    uniform = -ops.mean(log_probs, axis=-1)
    return (1.0 - label_smoothing) * nll + label_smoothing * uniform
