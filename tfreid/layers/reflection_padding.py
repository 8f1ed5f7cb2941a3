"""Reflection padding of CycleGAN's ResNet generator (Zhu et al., ICCV 2017); Keras has none."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfreid")
class ReflectionPadding2D(keras.layers.Layer):
    """Pads the two spatial axes of a feature map by mirroring it at its borders.

    The mirror does not repeat the border pixel (numpy's and PyTorch's "reflect"): the row
    [1, 2, 3] padded by 1 is [2, 1, 2, 3, 2]. So every padded axis must be longer than
    `padding`.

    Args:
        padding: rows added above and below, and columns added left and right, >= 1.

    Call:
        x: float [B, H, W, C], H > padding and W > padding.

    Returns:
        float [B, H + 2 padding, W + 2 padding, C].
    """

    def __init__(self, padding: int = 1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, bool) or not isinstance(padding, int) or padding < 1:
            raise ValueError(
                f"ReflectionPadding2D expects padding to be an int >= 1; received {padding!r}"
            )
        self.padding = padding

    def build(self, input_shape):
        if len(input_shape) != 4:
            raise ValueError(
                f"ReflectionPadding2D expects a feature map [B, H, W, C]; received shape "
                f"{tuple(input_shape)}"
            )
        for size in input_shape[1:3]:
            if size is not None and size <= self.padding:
                raise ValueError(
                    f"ReflectionPadding2D with padding {self.padding} needs H and W > "
                    f"{self.padding}; received shape {tuple(input_shape)}"
                )

    def call(self, x):
        pad = self.padding
        return ops.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]], mode="reflect")

    def compute_output_shape(self, input_shape):
        batch, height, width, channels = input_shape
        grow = 2 * self.padding
        return (
            batch,
            None if height is None else height + grow,
            None if width is None else width + grow,
            channels,
        )

    def get_config(self):
        config = super().get_config()
        config.update({"padding": self.padding})
        return config
