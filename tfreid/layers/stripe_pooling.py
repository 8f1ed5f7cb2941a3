"""Horizontal stripe pooling of PCB (Sun et al., ECCV 2018), used by Wu et al., IJCV 2020, and
by MGN's part branches (Wang et al., ACM MM 2018) with max pooling."""

import keras
from keras import ops

POOLINGS = ("average", "max")


@keras.saving.register_keras_serializable(package="tfreid")
class StripePooling(keras.layers.Layer):
    """Average- or max-pools a feature map over `stripes` horizontal stripes.

    The IJCV 2020 extractor (Sec. 6.2) splits the map equally into 6 stripes and average-pools
    each one. Stripe i covers rows [floor(i·H/S), ceil((i+1)·H/S)): equal, disjoint stripes
    when S divides H (384x128 input, last stride 1: 24 rows, 4 per stripe), and the bins of an
    adaptive average (or max) pooling to (S, 1) otherwise, so small test images still work.

    Args:
        stripes: the number of stripes S, >= 1.
        pooling: "average" (PCB) or "max" (MGN's part branches).

    Call:
        x: float [B, H, W, C], H >= 1.

    Returns:
        float [B, S, C], stripe 0 at the top of the image.
    """

    def __init__(self, stripes: int = 6, pooling: str = "average", **kwargs):
        super().__init__(**kwargs)
        if isinstance(stripes, bool) or not isinstance(stripes, int) or stripes < 1:
            raise ValueError(
                f"StripePooling expects stripes to be an int >= 1; received {stripes!r}"
            )
        if pooling not in POOLINGS:
            raise ValueError(
                f"StripePooling expects pooling to be one of {POOLINGS}; received {pooling!r}"
            )
        self.stripes = stripes
        self.pooling = pooling

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"StripePooling expects a feature map [B, H, W, C]; received shape "
                f"{tuple(input_shape)}"
            )

    def call(self, x):
        height = ops.shape(x)[1]
        rows = ops.arange(height)
        stripe = ops.arange(self.stripes)
        start = (stripe * height) // self.stripes
        end = ((stripe + 1) * height + self.stripes - 1) // self.stripes
        inside = ops.logical_and(
            ops.greater_equal(rows[None, :], start[:, None]), ops.less(rows[None, :], end[:, None])
        )  # [S, H]
        if self.pooling == "max":
            row_maxima = ops.max(x, axis=2)  # [B, H, C]
            lowest = ops.full_like(row_maxima[:, None], float("-inf"))
            candidates = ops.where(inside[None, :, :, None], row_maxima[:, None], lowest)
            return ops.max(candidates, axis=2)
        weights = ops.cast(inside, x.dtype) / ops.cast(end - start, x.dtype)[:, None]  # [S, H]
        row_means = ops.mean(x, axis=2)  # [B, H, C]
        return ops.einsum("sh,bhc->bsc", weights, row_means)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.stripes, input_shape[-1])

    def get_config(self):
        config = super().get_config()
        config.update({"stripes": self.stripes, "pooling": self.pooling})
        return config
