"""Resizing of one feature map to another's grid, as AlignGAN's joint discriminator does."""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="tfreid")
class ResizeLike(keras.layers.Layer):
    """Resizes `x` bilinearly to the height and width of `reference`, known only when called.

    keras.layers.Resizing needs the target size when built; here it is the grid of another
    tensor, e.g. the image path of a discriminator, whose size follows the input image.
    Bilinear resizing samples at pixel centres without antialiasing, as PyTorch's
    `F.interpolate(mode="bilinear", align_corners=False)`: upsampling [0, 1] by 2 gives
    [0, 0.25, 0.75, 1].

    Call as `layer([x, reference])`:
        x: float [B, h, w, C].
        reference: [B, H, W, C'] of any dtype; only its height and width are read.

    Returns:
        [B, H, W, C] in the layer's compute dtype.
    """

    def build(self, input_shape):
        # Keras passes the shapes of a list input as a list of tuples.
        is_pair = isinstance(input_shape, (list, tuple)) and len(input_shape) == 2
        if not is_pair or any(
            not isinstance(shape, (list, tuple)) or len(shape) != 4 for shape in input_shape
        ):
            raise ValueError(
                "ResizeLike expects [x, reference], both of shape [B, H, W, C]; received "
                f"shapes {input_shape!r}"
            )

    def call(self, inputs):
        x, reference = inputs
        # keras.ops.image.resize checks `size > 0` in Python, which fails inside a
        # tf.function for a size unknown when traced; tf.image.resize takes a tensor.
        resized = tf.image.resize(x, ops.shape(reference)[1:3], method="bilinear")
        # It returns float32 whatever it is given.
        return ops.cast(resized, x.dtype)

    def compute_output_shape(self, input_shape):
        x_shape, reference_shape = input_shape
        return (x_shape[0], reference_shape[1], reference_shape[2], x_shape[3])
