"""Input encodings of the RGB-IR structures of Wu et al., ICCV 2017 (Sec. 4.2, Table 4)."""

import keras
import tensorflow as tf
from keras import ops

from tfreid.layers.pairs import split_pair

# ITU-R BT.601 luminance weights of (R, G, B): the usual RGB -> gray conversion.
LUMINANCE = (0.299, 0.587, 0.114)

# Output channels of each encoding.
ENCODINGS = {"rgb3": 3, "gray": 1, "zero_padding": 2, "domain_indicator": 3}


def indicator_values(mean, std) -> tuple[float, float]:
    """What 255 and 0 become in the gray channel of a normalised image (domain indicator)."""
    high = sum(w * (1.0 - m) / s for w, m, s in zip(LUMINANCE, mean, std))
    low = sum(w * (0.0 - m) / s for w, m, s in zip(LUMINANCE, mean, std))
    return high, low


def encoding_channels(encoding: str) -> int:
    """The number of channels `ModalityInputEncoding(encoding)` outputs."""
    if encoding not in ENCODINGS:
        raise ValueError(
            f"Unknown modality input encoding {encoding!r}; expected one of {list(ENCODINGS)}"
        )
    return ENCODINGS[encoding]


@keras.saving.register_keras_serializable(package="tfreid")
class ModalityInputEncoding(keras.layers.Layer):
    """Turns a normalised 3-channel image into the input of one of the ICCV 2017 structures.

    - `rgb3`: the image unchanged (IR arrives as 3 equal channels).
    - `gray`: one luminance channel 0.299 R + 0.587 G + 0.114 B, the same linear map for
      both modalities (the one-stream network's input).
    - `zero_padding`: two channels, RGB -> [gray, 0], IR -> [0, gray] (deep zero-padding,
      Sec. 4.2, Fig. 6).
    - `domain_indicator`: gray plus two constant channels, RGB -> (high, low),
      IR -> (low, high) (Table 4; the paper pads with 255 and 0, so `high` and `low` are
      those values after the same normalisation as the image).

    Called as `layer([images, modality])`:
        images: float [B, H, W, 3], already normalised per channel (or one [H, W, 3] image).
        modality: int [B] (or a scalar), 0 = RGB, 1 = IR.

    Args:
        encoding: one of "rgb3", "gray", "zero_padding", "domain_indicator".
        high: value of the domain indicator channel that is "on" (the paper's 255).
        low: value of the domain indicator channel that is "off" (the paper's 0).
    """

    def __init__(self, encoding: str = "rgb3", high: float = 1.0, low: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        encoding_channels(encoding)
        self.encoding = encoding
        self.high = float(high)
        self.low = float(low)

    def build(self, input_shape):
        images_shape, modality_shape = _split_inputs(input_shape, "input_shape")
        if images_shape[-1] != 3 or len(images_shape) != len(modality_shape) + 3:
            raise ValueError(
                "ModalityInputEncoding expects images [B, H, W, 3] with modality [B] "
                f"(or [H, W, 3] with a scalar); received images {tuple(images_shape)} and "
                f"modality {tuple(modality_shape)}"
            )

    def call(self, inputs):
        images, modality = _split_inputs(inputs, "inputs")
        images = ops.cast(images, self.compute_dtype)
        if self.encoding == "rgb3":
            return images
        coefficients = ops.convert_to_tensor(LUMINANCE, dtype=self.compute_dtype)
        gray = ops.sum(images * coefficients, axis=-1, keepdims=True)
        if self.encoding == "gray":
            return gray
        is_ir = ops.equal(modality, 1)
        for _ in range(3):
            is_ir = ops.expand_dims(is_ir, -1)
        zeros = ops.zeros_like(gray)
        if self.encoding == "zero_padding":
            return ops.concatenate(
                [ops.where(is_ir, zeros, gray), ops.where(is_ir, gray, zeros)], axis=-1
            )
        high = zeros + self.high
        low = zeros + self.low
        return ops.concatenate(
            [gray, ops.where(is_ir, low, high), ops.where(is_ir, high, low)], axis=-1
        )

    def compute_output_shape(self, input_shape):
        images_shape = _split_inputs(input_shape, "input_shape")[0]
        return tuple(images_shape[:-1]) + (ENCODINGS[self.encoding],)

    def get_config(self):
        config = super().get_config()
        config.update({"encoding": self.encoding, "high": self.high, "low": self.low})
        return config


def _split_inputs(inputs, what) -> tuple[tf.Tensor, tf.Tensor]:
    return split_pair(inputs, "ModalityInputEncoding", "[images, modality]", what)
