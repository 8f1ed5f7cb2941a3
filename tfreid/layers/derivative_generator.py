"""Derivative-modality generator of the base-derivative framework (ICPR 2020, Eq. 1)."""

import keras
import tensorflow as tf
from keras import ops

from tfreid.layers.pairs import split_pair


@keras.saving.register_keras_serializable(package="tfreid")
class DerivativeGenerator(keras.layers.Layer):
    """Makes the derivative images X_DV = G_S(E_V(X_V)) and X_DI = G_S(X_I) (Eq. 1).

    E_V is a 1x1 convolution 3 -> 1 channel with a ReLU; G_S is ONE 1x1 convolution 1 -> 3
    channels, no activation, shared by both paths. A 1x1 convolution is a matrix product over
    the channel axis, which is how it is computed here. Both have a bias
    (docs/methods/base_derivative.md, B1).

    X_I enters G_S as one channel: the mean over the channels of the IR image (a 1-channel
    image is taken as is). For SYSU's replicated IR (v, v, v), normalised per channel as the
    pipeline does, that mean is the same affine function of v as E_V's initial
    pre-activation on a gray RGB pixel (v, v, v), so both paths start by treating a gray pixel
    alike; channel 0 alone, (v / 255 - μ_0) / σ_0, would not.

    Initialisation (B1): E_V weights 1/3, G_S weights 1, biases 0. On the normalised tensors
    the layer works on, the derivative images then start with three equal channels:
        X_DI = mean_c X_I in every channel: exactly the channel-mean gray of X_I;
        X_DV = max(0, mean_c X_V) in every channel: the channel-mean gray of X_V clipped at 0
            by E_V's ReLU, so every pixel whose normalised channel mean is negative (roughly,
            darker than the normalisation's mean colour) starts at 0.
    So "gray" holds in the sense of equal channels, not as a copy of the input's brightness
    for X_DV's dark pixels. mean_c ((x_c / 255 - μ_c) / σ_c) weights R, G, B by 1/σ_c
    (ImageNet σ: within 1.3 % of equal weights), an affine function of the plain channel
    average of the [0, 255] pixels, not of the BT.601 luminance.

    Called as `layer([rgb_images, ir_images])`:
        rgb_images: float [B, H, W, 3], normalised.
        ir_images: float [B', H', W', 3] (replicated IR) or [B', H', W', 1], normalised.
    Returns `(rgb_derived, ir_derived)`: float [B, H, W, 3] and [B', H', W', 3].
    `derive_rgb` and `derive_ir` run one path on a built layer.

    Weights: `encoder_kernel` [3, 1], `encoder_bias` [1] (E_V); `generator_kernel` [1, 3],
    `generator_bias` [3] (G_S). The paper trains them only through the ReID losses.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.encoder_kernel = None
        self.encoder_bias = None
        self.generator_kernel = None
        self.generator_bias = None

    def build(self, input_shape):
        rgb_shape, ir_shape = _split_inputs(input_shape, "input_shape")
        rgb_ok = len(rgb_shape) == 4 and rgb_shape[-1] == 3
        ir_ok = len(ir_shape) == 4 and ir_shape[-1] in (1, 3)
        if not (rgb_ok and ir_ok):
            raise ValueError(
                "DerivativeGenerator expects rgb_images [B, H, W, 3] and ir_images "
                f"[B, H, W, 3 or 1]; received {tuple(rgb_shape)} and {tuple(ir_shape)}"
            )
        self.encoder_kernel = self.add_weight(
            name="encoder_kernel", shape=(3, 1), initializer=keras.initializers.Constant(1 / 3)
        )
        self.encoder_bias = self.add_weight(name="encoder_bias", shape=(1,), initializer="zeros")
        self.generator_kernel = self.add_weight(
            name="generator_kernel", shape=(1, 3), initializer="ones"
        )
        self.generator_bias = self.add_weight(
            name="generator_bias", shape=(3,), initializer="zeros"
        )

    def call(self, inputs):
        rgb_images, ir_images = _split_inputs(inputs, "inputs")
        return self.derive_rgb(rgb_images), self.derive_ir(ir_images)

    def derive_rgb(self, images) -> tf.Tensor:
        """X_DV = G_S(E_V(X_V)): float [B, H, W, 3] -> [B, H, W, 3]."""
        images = ops.cast(images, self.compute_dtype)
        encoded = ops.relu(self._affine(images, self.encoder_kernel, self.encoder_bias))
        return self._affine(encoded, self.generator_kernel, self.generator_bias)

    def derive_ir(self, images) -> tf.Tensor:
        """X_DI = G_S(mean_c X_I): float [B, H, W, 3 or 1] -> [B, H, W, 3]."""
        images = ops.cast(images, self.compute_dtype)
        one_channel = ops.mean(images, axis=-1, keepdims=True)
        return self._affine(one_channel, self.generator_kernel, self.generator_bias)

    def _affine(self, images, kernel, bias):
        """A 1x1 convolution: images [..., C_in] @ kernel [C_in, C_out] + bias [C_out]."""
        kernel = ops.cast(kernel, self.compute_dtype)
        return ops.matmul(images, kernel) + ops.cast(bias, self.compute_dtype)

    def compute_output_shape(self, input_shape):
        rgb_shape, ir_shape = _split_inputs(input_shape, "input_shape")
        return tuple(rgb_shape[:-1]) + (3,), tuple(ir_shape[:-1]) + (3,)


def _split_inputs(inputs, what):
    return split_pair(inputs, "DerivativeGenerator", "[rgb_images, ir_images]", what)
