"""Batch DropBlock of the BFE / BDB network (Dai et al., ICCV 2019), one of HPILN's backbones."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfreid")
class BatchDrop(keras.layers.Layer):
    """Zeroes one rectangle of the feature map, at the same place for the whole batch.

    In training, a block of floor(height_ratio·H) rows and floor(width_ratio·W) columns (the
    public BDB code truncates with int()) is set to 0 in every map and channel of the batch.
    Its top-left corner is drawn uniformly among the positions where the block fits, anew at
    every call; BDB uses height_ratio 0.33 and width_ratio 1.0 for people, i.e. one
    full-width band of a third of the height (5 of the 16 rows of a 256x128 input). At
    inference the layer is the identity.

    Under a distribution strategy every replica draws the same block: the seed generator's
    state is one mirrored variable, so the whole global batch loses the same band, as one
    device would.

    Args:
        height_ratio: the block's share of the map height, in [0, 1].
        width_ratio: the block's share of the map width, in [0, 1].
        seed: int seed of the block positions, or None (drawn from Keras's global seed).

    Call:
        x: float [B, H, W, C].
        training: drop only when True.

    Returns:
        float [B, H, W, C].
    """

    def __init__(self, height_ratio=0.33, width_ratio=1.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("height_ratio", height_ratio), ("width_ratio", width_ratio)):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"BatchDrop expects {name} to be a number; received {value!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"BatchDrop expects {name} in [0, 1]; received {value!r}")
        self.height_ratio = float(height_ratio)
        self.width_ratio = float(width_ratio)
        self.seed = seed
        # Named after the layer: an unnamed generator's state is keyed by a process-wide
        # counter ("seed_generator_3"), and a checkpoint would then depend on what the process
        # built before.
        self.seed_generator = keras.random.SeedGenerator(seed, name=f"{self.name}_seed_generator")

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"BatchDrop expects a feature map [B, H, W, C]; received shape {tuple(input_shape)}"
            )

    def call(self, x, training=False):
        if not training:
            return x
        keep = self.keep_mask(ops.shape(x)[1], ops.shape(x)[2])
        return x * ops.cast(keep, x.dtype)[None, :, :, None]

    def keep_mask(self, height, width):
        """bool [H, W], False inside this call's block: draws the next block position."""
        sizes = ops.convert_to_tensor([height, width])
        ratios = ops.convert_to_tensor([self.height_ratio, self.width_ratio], "float64")
        block = ops.cast(ops.floor(ratios * ops.cast(sizes, "float64")), "int32")
        uniform = keras.random.uniform((2,), dtype="float64", seed=self.seed_generator)
        start = ops.cast(ops.floor(uniform * ops.cast(sizes - block + 1, "float64")), "int32")
        rows = _inside(ops.arange(height), start[0], block[0])
        columns = _inside(ops.arange(width), start[1], block[1])
        return ops.logical_not(ops.logical_and(rows[:, None], columns[None, :]))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            {"height_ratio": self.height_ratio, "width_ratio": self.width_ratio, "seed": self.seed}
        )
        return config


def _inside(positions, start, length):
    return ops.logical_and(ops.greater_equal(positions, start), ops.less(positions, start + length))
