"""What backbones are made of: stages as functional models, the conv + BN unit, and the
record the registry (`tfreid.models.networks`) keeps of every backbone.

A backbone is a list of stages, each a small functional model mapping a feature map
[B, H, W, C] to the next: stage 0 is the stem, the rest the residual stages. A cross-modality
structure builds the first N stages once per modality (different `prefix`es give independent
weights) and shares the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import keras
from keras import layers

from tfreid.layers.batch_norm import BN_EPSILON, batch_norm
from tfreid.layers.modality_gate import ModalityGate


@dataclass(frozen=True)
class Backbone:
    """A backbone `model.backbone` can name: its stages and how they are built.

    Attributes:
        name: the config name, e.g. "resnet50_torchvision".
        stage_names: the name of every stage, in order; stage i of a backbone built with
            `prefix` is the functional model f"{prefix}{name}_{stage_names[i]}".
        feature_channels: channels of the last stage's output.
        build_stages: `build_stages(backbone, input_channels, last_stride, prefix)`, the
            stages of this record (arguments as `stages`).
        gated: the stages take `[x, modality]` instead of `x` (modality-gated).
        layout: a ResNet-50's layout (`tfreid.models.networks.resnet50`), else None.
    """

    name: str
    stage_names: tuple[str, ...]
    feature_channels: int
    build_stages: Callable[..., list[keras.Model]]
    gated: bool = False
    layout: object | None = None  # a `tfreid.models.networks.resnet50.Layout`

    def stages(
        self, input_channels: int, last_stride: int = 2, prefix: str = ""
    ) -> list[keras.Model]:
        """The backbone as a list of stages (stem, then residual stages), in order.

        Args:
            input_channels: channels of the image the stem takes (1 gray, 2 zero-padding,
                3 RGB or gray + domain indicator).
            last_stride: stride of the last stage, 1 or 2. With 1 the output stride is 16
                instead of 32.
            prefix: prepended to every layer and stage name; stages built twice with
                different prefixes have independent weights.

        Returns:
            len(stage_names) functional models; stage i maps float32 [B, H, W, C_i] to
            [B, H', W', C_{i+1}], C_0 = `input_channels`. Gated stages map `[x, modality]`
            (modality int32 [B]) to the same output.
        """
        if not isinstance(input_channels, int) or input_channels < 1:
            raise ValueError(f"input_channels must be a positive int, got {input_channels!r}.")
        if last_stride not in (1, 2):
            raise ValueError(f"last_stride must be 1 or 2, got {last_stride!r}.")
        return self.build_stages(self, input_channels, last_stride, prefix)


def functional_stage(
    stage_name: str, channels: int, apply_fn, gated: bool = False, **kwargs
) -> keras.Model:
    """Wraps `apply_fn(x, **kwargs)` into a model taking [B, H, W, channels] of any size.

    A gated stage also takes the modality of every row and passes it as `modality=`.
    """
    inputs = keras.Input(shape=(None, None, channels), name=f"{stage_name}_input")
    if not gated:
        return keras.Model(inputs, apply_fn(inputs, **kwargs), name=stage_name)
    modality = keras.Input(shape=(), dtype="int32", name=f"{stage_name}_modality")
    outputs = apply_fn(inputs, modality=modality, **kwargs)
    return keras.Model([inputs, modality], outputs, name=stage_name)


def conv_bn(
    x,
    filters: int,
    kernel_size: int,
    stride: int,
    name: str,
    modality=None,
    epsilon: float = BN_EPSILON,
    **conv_kwargs,
):
    """Conv + BN; with a `modality` tensor, a modality-gated node per output channel."""
    x = layers.Conv2D(filters, kernel_size, strides=stride, name=f"{name}_conv", **conv_kwargs)(x)
    x = batch_norm(f"{name}_bn", epsilon)(x)
    if modality is None:
        return x
    return ModalityGate(name=f"{name}_gate")([x, modality])
