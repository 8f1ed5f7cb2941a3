"""Centre loss (Wen, Zhang, Li, Qiao, ECCV 2016, Eq. 2), a comparison loss of HPILN.

Wen et al.: L_C = 1/2 Σ_i ||x_i - c_{y_i}||², with one learned centre c_j per class. The
centres live in `tfreid.layers.IdentityCentres` and get their own optimizer; this module only
computes the per-sample value 1/2 ||f_i - c_{y_i}||².

How the BoT settings HPILN's comparison uses (docs/methods/hpiln.md, A5: weight 5e-4, centre
lr 0.5; `reid-strong-baseline`) map onto this function. BoT's loss is mean_i ||f_i - c_{y_i}||²,
WITHOUT Wen's 1/2, weighted by 5e-4 in the total loss; before its centre step it divides the
centres' gradient by that weight, so the centres move by SGD with lr 0.5 on the gradient of the
unweighted mean, i.e. by (1/B) Σ_{i: y_i = j} (c_j - f_i). With the 1/2 kept here:
- the features see BoT's gradient with weight 2 · 5e-4 = 1e-3 on the mean of `centre_loss`;
- the centres take BoT's step with plain SGD, lr 1.0, on the gradient of the UNWEIGHTED mean of
  `centre_loss` (lr 0.5 there moves them half as far as BoT does).
Wen's own update (Eq. 4), c_j -= α Σ_{i: y_i = j} (c_j - f_i) / (1 + n_j), divides by the class
count n_j in the batch instead of the batch size, so it is not a plain SGD step on this loss.
"""

import tensorflow as tf
from keras import ops

from tfreid.losses.pairwise import as_float


def centre_loss(labels, features, centres) -> tf.Tensor:
    """Per-sample centre loss 1/2 ||f_i - c_{y_i}||² (Wen et al. 2016, Eq. 2).

    Args:
        labels: int [N] class indices in [0, C).
        features: float [N, D] embeddings.
        centres: float [C, D] class centres (`IdentityCentres.centres`).

    Returns:
        float32 [N] per-sample losses (float64 if `features` is float64). Gradients reach
        both the features and the centres of the classes present in the batch.
    """
    features = as_float(features)
    centres = ops.cast(centres, features.dtype)
    assigned = ops.take(centres, ops.cast(labels, "int32"), axis=0)
    return 0.5 * ops.sum(ops.square(features - assigned), axis=1)
