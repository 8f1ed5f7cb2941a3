"""A TS-GAN generator together with the image space it translates in (docs/methods/tsgan.md, C7).

CycleGAN's generators read and write images in [-1, 1] (their tanh range), and the
discriminators judge images in that range, as AlignGAN's do. The ReID backbones read the
pipeline's images, normalised by data.mean / data.std. A `Translator` is a generator that
knows both: calling it translates [-1, 1] images; `to_gan` brings the pipeline's images into
[-1, 1] and `to_backbone` takes a generated image back to the backbone's normalisation
((x + 1) / 2, then (x - mean) / std), so a fake image reaches FE_S and FE_T exactly as a real
image of the same pixels would.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
from keras import ops


class Translator(keras.Model):
    """A generator of [-1, 1] images for a pipeline normalised by (mean, std).

    Args:
        generator: a model mapping float32 [B, H, W, 3] in [-1, 1] to the same shape in
            [-1, 1] (`tfreid.models.gan.build_resnet_generator`).
        mean: the pipeline's 3 channel means (of pixel values / 255).
        std: its 3 channel standard deviations.
    """

    def __init__(
        self, generator: keras.Model, mean: Sequence[float], std: Sequence[float], **kwargs
    ):
        super().__init__(**kwargs)
        if len(mean) != 3 or len(std) != 3 or min(std) <= 0:
            raise ValueError(f"mean and std must be 3 values (std > 0), got {mean} and {std}")
        self.generator = generator
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self.built = generator.built  # a functional generator is built already

    def call(self, images, training=False):
        """float32 [B, H, W, 3] in [-1, 1] -> the translation, float32 [B, H, W, 3] in [-1, 1]."""
        return self.generator(images, training=training)

    def to_gan(self, normalised):
        """The pipeline's normalised images [B, H, W, 3] in the generators' [-1, 1]."""
        return 2.0 * (normalised * self._std(normalised) + self._mean(normalised)) - 1.0

    def to_backbone(self, images):
        """[-1, 1] images [B, H, W, 3] normalised as the backbones read them."""
        return ((images + 1.0) / 2.0 - self._mean(images)) / self._std(images)

    def _mean(self, like):
        return ops.cast(ops.convert_to_tensor(self.mean), like.dtype)

    def _std(self, like):
        return ops.cast(ops.convert_to_tensor(self.std), like.dtype)
