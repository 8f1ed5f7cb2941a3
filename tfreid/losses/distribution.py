"""Feature-distribution alignment losses between RGB and IR features: MMD and CORAL.

These are the comparison losses of the IJCV 2020 paper (Table 3: DeepMMD, DeepCORAL). Unlike
the per-sample losses they return one scalar per replica; under a distribution strategy a
method should scale them with `tf.nn.scale_regularization_loss` rather than
`tf.nn.compute_average_loss`.
"""

from collections.abc import Sequence

import tensorflow as tf
from keras import ops

from tfreid.losses.pairwise import as_float, pairwise_squared_distance

DEFAULT_BANDWIDTH_MULTIPLIERS = (0.25, 0.5, 1.0, 2.0, 4.0)


def median_squared_distance(points) -> tf.Tensor:
    """Median of the squared distances over all unordered pairs of distinct rows.

    Written with a sort over a fixed-size tensor (no boolean mask) so it also compiles
    with XLA.

    Args:
        points: float [T, D], T >= 2.

    Returns:
        float scalar.
    """
    squared = pairwise_squared_distance(points, points)
    rows = ops.arange(ops.shape(squared)[0])
    upper = ops.less(ops.expand_dims(rows, 1), ops.expand_dims(rows, 0))
    # The T(T-1)/2 pairs sort first; every other entry is pushed to +inf.
    ordered = ops.sort(ops.reshape(ops.where(upper, squared, float("inf")), (-1,)))
    count = ops.sum(ops.cast(upper, "int32"))
    return 0.5 * (ordered[(count - 1) // 2] + ordered[count // 2])


def mmd(x, y, bandwidth_multipliers: Sequence[float] = DEFAULT_BANDWIDTH_MULTIPLIERS) -> tf.Tensor:
    """Squared maximum mean discrepancy with a sum of Gaussian kernels (Gretton et al. 2012).

    Biased (V-statistic) estimator: mean k(x, x') + mean k(y, y') - 2 mean k(x, y), with the
    diagonal terms included, so it is >= 0 and exactly 0 for identical sets. The kernel is
    k(a, b) = sum_m exp(-|a - b|² / (m·h)), h the median squared distance over all pairs of
    the pooled set (the median heuristic); no gradient flows through h.

    Args:
        x: float [N, D] RGB features.
        y: float [M, D] IR features.
        bandwidth_multipliers: the factors m applied to the median heuristic.

    Returns:
        float32 scalar (float64 if the inputs are float64).
    """
    x, y = as_float(x), as_float(y)
    pooled = ops.concatenate([x, y], axis=0)
    median = ops.stop_gradient(median_squared_distance(pooled))
    median = ops.maximum(median, 1e-12)  # all points identical: every kernel value is 1 anyway
    squared = pairwise_squared_distance(pooled, pooled)
    kernel = ops.zeros_like(squared)
    for multiplier in bandwidth_multipliers:
        kernel = kernel + ops.exp(-squared / (multiplier * median))
    n = ops.shape(x)[0]
    k_xx = ops.mean(kernel[:n, :n])
    k_yy = ops.mean(kernel[n:, n:])
    k_xy = ops.mean(kernel[:n, n:])
    return k_xx + k_yy - 2.0 * k_xy


def covariance(x) -> tf.Tensor:
    """Unbiased covariance of the columns of `x`.

    Args:
        x: float [N, D], N >= 2.

    Returns:
        float [D, D].
    """
    centred = x - ops.mean(x, axis=0, keepdims=True)
    n = ops.cast(ops.shape(x)[0], x.dtype)
    return ops.matmul(ops.transpose(centred), centred) / (n - 1.0)


def coral(x, y) -> tf.Tensor:
    """Deep CORAL loss (Sun and Saenko 2016): |C_x - C_y|²_F / (4 d²).

    Args:
        x: float [N, D] RGB features, N >= 2.
        y: float [M, D] IR features, M >= 2.

    Returns:
        float32 scalar (float64 if the inputs are float64).
    """
    x, y = as_float(x), as_float(y)
    for name, value in (("x", x), ("y", y)):
        if value.shape.rank != 2:
            raise ValueError(f"coral expects {name} of shape [N, D]; received {value.shape}")
        if value.shape[0] is not None and value.shape[0] < 2:
            raise ValueError(
                f"coral needs at least 2 rows in {name} for an unbiased covariance; "
                f"received shape {value.shape}"
            )
    d = ops.cast(ops.shape(x)[1], x.dtype)
    difference = covariance(x) - covariance(y)
    return ops.sum(ops.square(difference)) / (4.0 * d * d)
