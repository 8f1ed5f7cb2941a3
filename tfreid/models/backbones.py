"""ResNet-6, ResNet-50 and modality-gated ResNet-50 backbones, split into a stem and stages.

A backbone is a list of small functional models ("parts"), each mapping a feature map
[B, H, W, C] to the next. A cross-modality structure builds the first N parts once per
modality (different `prefix`es give independent weights) and shares the rest, e.g. the ICCV
2017 two-stream network (2 specific + 4 shared blocks) is ResNet-6 with parts 0-2 (stem,
block1, block2) built per modality and parts 3-6 (block3-block6) shared.

Layer names are explicit and, for ResNet-50 with prefix "", equal keras.applications.ResNet50's,
so ImageNet weights load by name (`tfreid.models.pretrained.load_pretrained`).

The gated ResNet-50 (Wu et al., IJCV 2020, Sec. 4.3) is ResNet-50 with every node replaced by
a modality-gated node: a `ModalityGate` on the output of every conv + BN unit (53 of them,
named f"{unit}_gate", e.g. "conv2_block1_1_gate"). Its parts take `[x, modality]` (modality
int [B], 0 = RGB, 1 = IR) and carry the same conv/BN layer names as ResNet-50.
"""

import keras
from keras import layers

from tfreid.layers.batch_norm import BatchNorm
from tfreid.layers.modality_gate import ModalityGate

# keras.applications uses this epsilon; the ImageNet statistics were computed with it.
BN_EPSILON = 1.001e-5

# ResNet-6 (Wu et al., ICCV 2017, Sec. 5.1): six residual blocks of these widths. The paper is
# silent on the rest; we follow ResNet [9]: a 7x7 stride-2 stem conv (16 filters, the width of
# the first block), basic blocks of two 3x3 convs, a projection shortcut when the shape
# changes, and stride 2 in the first conv of every block that widens the map. There is no max
# pooling, so the output stride is 32 (224x224 -> 7x7), as for ResNet-50.
RESNET6_STEM_FILTERS = 16
RESNET6_STEM_KERNEL = 7
RESNET6_FILTERS = (16, 16, 64, 128, 256, 512)
RESNET6_STRIDES = (1, 1, 2, 2, 2)  # block6's stride is `last_stride`

# ResNet-50 v1 (He et al., CVPR 2016): (stage name, bottleneck filters, blocks, stride).
RESNET50_STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2))
RESNET50_LAST_STAGE = ("conv5", 512, 3)

PART_NAMES = {
    "resnet6": ("stem", "block1", "block2", "block3", "block4", "block5", "block6"),
    "resnet50": ("stem", "conv2", "conv3", "conv4", "conv5"),
    "gated_resnet50": ("stem", "conv2", "conv3", "conv4", "conv5"),
}
_FEATURE_CHANNELS = {
    "resnet6": RESNET6_FILTERS[-1],
    "resnet50": 4 * RESNET50_LAST_STAGE[1],
    "gated_resnet50": 4 * RESNET50_LAST_STAGE[1],
}


def batch_norm(name: str, epsilon: float = BN_EPSILON, **kwargs) -> BatchNorm:
    """The batch norm of every tfreid network: keras.applications' epsilon by default (the
    ImageNet statistics were computed with it), synchronized so that under a multi-replica
    strategy the statistics are those of the global batch and N replicas train exactly as one
    device."""
    return BatchNorm(epsilon=epsilon, synchronized=True, name=name, **kwargs)


def _check_name(name: str) -> None:
    if name not in PART_NAMES:
        raise ValueError(f"Unknown backbone {name!r}; expected one of {sorted(PART_NAMES)}.")


def is_gated(name: str) -> bool:
    """Whether `name`'s parts take `[x, modality]` instead of `x`."""
    _check_name(name)
    return name == "gated_resnet50"


def feature_channels(name: str) -> int:
    """Channels of the last part's output (512 for ResNet-6, 2048 for (gated) ResNet-50)."""
    _check_name(name)
    return _FEATURE_CHANNELS[name]


def num_parts(name: str) -> int:
    """Number of parts `build_backbone` returns (7 for ResNet-6, 5 for (gated) ResNet-50)."""
    _check_name(name)
    return len(PART_NAMES[name])


def build_backbone(
    name: str, input_channels: int, last_stride: int = 2, prefix: str = ""
) -> list[keras.Model]:
    """Builds a backbone as a list of parts (stem, then stages), in order.

    Args:
        name: "resnet6", "resnet50" or "gated_resnet50".
        input_channels: channels of the image the stem takes (1 gray, 2 zero-padding,
            3 RGB or gray + domain indicator).
        last_stride: stride of the last stage (block6 / conv5_block1), 1 or 2. With 1 the
            output stride is 16 instead of 32.
        prefix: prepended to every layer and part name; parts built twice with different
            prefixes have independent weights.

    Returns:
        `num_parts(name)` functional models named f"{prefix}{name}_{part}"; part i maps
        float32 [B, H, W, C_i] to [B, H', W', C_{i+1}], C_0 = `input_channels`. Gated parts
        map `[x, modality]` (modality int32 [B]) to the same output.
    """
    _check_name(name)
    if not isinstance(input_channels, int) or input_channels < 1:
        raise ValueError(f"input_channels must be a positive int, got {input_channels!r}.")
    if last_stride not in (1, 2):
        raise ValueError(f"last_stride must be 1 or 2, got {last_stride!r}.")
    if name == "resnet6":
        return _resnet6_parts(input_channels, last_stride, prefix)
    return _resnet50_parts(input_channels, last_stride, prefix, gated=is_gated(name))


def part_prefix(part: keras.Model) -> str:
    """The `prefix` a part was built with, read from its name f"{prefix}{backbone}_{part}"."""
    # Longest names first: "gated_resnet50_stem" also ends in "resnet50_stem".
    for backbone in sorted(PART_NAMES, key=len, reverse=True):
        for part_name in PART_NAMES[backbone]:
            suffix = f"{backbone}_{part_name}"
            if part.name.endswith(suffix):
                return part.name[: -len(suffix)]
    raise ValueError(
        f"Model {part.name!r} is not a part built by build_backbone (expected a name ending "
        f"in '<backbone>_<part>', e.g. 'resnet50_conv2')."
    )


def functional_part(
    part_name: str, channels: int, apply_fn, gated: bool = False, **kwargs
) -> keras.Model:
    """Wraps `apply_fn(x, **kwargs)` into a model taking [B, H, W, channels] of any size.

    A gated part also takes the modality of every row and passes it as `modality=`.
    """
    inputs = keras.Input(shape=(None, None, channels), name=f"{part_name}_input")
    if not gated:
        return keras.Model(inputs, apply_fn(inputs, **kwargs), name=part_name)
    modality = keras.Input(shape=(), dtype="int32", name=f"{part_name}_modality")
    outputs = apply_fn(inputs, modality=modality, **kwargs)
    return keras.Model([inputs, modality], outputs, name=part_name)


def _resnet6_parts(input_channels: int, last_stride: int, prefix: str) -> list[keras.Model]:
    base = f"{prefix}resnet6"
    parts = [
        functional_part(f"{base}_stem", input_channels, apply_resnet6_stem, name=f"{prefix}conv1")
    ]
    channels = RESNET6_STEM_FILTERS
    strides = RESNET6_STRIDES + (last_stride,)
    for index, (filters, stride) in enumerate(zip(RESNET6_FILTERS, strides, strict=True)):
        block = f"block{index + 1}"
        parts.append(
            functional_part(
                f"{base}_{block}",
                channels,
                apply_basic_block,
                filters=filters,
                stride=stride,
                name=f"{prefix}{block}",
            )
        )
        channels = filters
    return parts


def _resnet50_parts(
    input_channels: int, last_stride: int, prefix: str, gated: bool = False
) -> list[keras.Model]:
    base = f"{prefix}gated_resnet50" if gated else f"{prefix}resnet50"
    parts = [
        functional_part(
            f"{base}_stem", input_channels, apply_resnet50_stem, gated=gated, prefix=prefix
        )
    ]
    channels = 64
    stages = RESNET50_STAGES + (RESNET50_LAST_STAGE + (last_stride,),)
    for stage, filters, blocks, stride in stages:
        parts.append(
            functional_part(
                f"{base}_{stage}",
                channels,
                apply_stack,
                gated=gated,
                filters=filters,
                blocks=blocks,
                stride=stride,
                name=f"{prefix}{stage}",
            )
        )
        channels = 4 * filters
    return parts


def _conv_bn(
    x, filters: int, kernel_size: int, stride: int, name: str, modality=None, **conv_kwargs
):
    """Conv + BN; with a `modality` tensor, a modality-gated node per output channel."""
    x = layers.Conv2D(filters, kernel_size, strides=stride, name=f"{name}_conv", **conv_kwargs)(x)
    x = batch_norm(f"{name}_bn")(x)
    if modality is None:
        return x
    return ModalityGate(name=f"{name}_gate")([x, modality])


def apply_resnet6_stem(x, name: str):
    """7x7 stride-2 conv + BN + ReLU (no pooling, see the module notes).

    Args:
        x: float32 [B, H, W, C] image.
        name: layer name prefix, e.g. "conv1".

    Returns:
        float32 [B, ceil(H/2), ceil(W/2), 16].
    """
    x = _conv_bn(
        x,
        RESNET6_STEM_FILTERS,
        RESNET6_STEM_KERNEL,
        2,
        name,
        padding="same",
        use_bias=False,
        kernel_initializer="he_normal",
    )
    return layers.Activation("relu", name=f"{name}_relu")(x)


def apply_basic_block(x, filters: int, stride: int = 1, name: str = "block"):
    """ResNet v1 basic block: two 3x3 conv + BN, shortcut added before the last ReLU.

    Convs have no bias (BN follows) and He-normal initialisation, as ResNet [9] trains from
    scratch. The shortcut is a 1x1 conv + BN when the stride or the width changes.

    Args:
        x: float32 [B, H, W, C].
        filters: output channels.
        stride: stride of the first 3x3 conv (and of the projection).
        name: layer name prefix, e.g. "block3".

    Returns:
        float32 [B, ceil(H/stride), ceil(W/stride), filters].
    """
    conv_kwargs = {"padding": "same", "use_bias": False, "kernel_initializer": "he_normal"}
    if stride != 1 or x.shape[-1] != filters:
        shortcut = _conv_bn(x, filters, 1, stride, f"{name}_0", **conv_kwargs)
    else:
        shortcut = x
    y = _conv_bn(x, filters, 3, stride, f"{name}_1", **conv_kwargs)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", **conv_kwargs)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def apply_resnet50_stem(x, prefix: str = "", modality=None):
    """keras.applications ResNet-50 stem: 7x7/2 conv + BN + ReLU + 3x3/2 max pooling.

    Args:
        x: float32 [B, H, W, C] image.
        prefix: prepended to the keras.applications layer names.
        modality: int32 [B] or None; when given, the conv + BN unit is modality-gated.

    Returns:
        float32 [B, H', W', 64] with output stride 4.
    """
    x = layers.ZeroPadding2D(padding=3, name=f"{prefix}conv1_pad")(x)
    x = _conv_bn(x, 64, 7, 2, f"{prefix}conv1", modality=modality)
    x = layers.Activation("relu", name=f"{prefix}conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=1, name=f"{prefix}pool1_pad")(x)
    return layers.MaxPooling2D(3, strides=2, name=f"{prefix}pool1_pool")(x)


def apply_bottleneck_block(
    x,
    filters: int,
    stride: int = 1,
    conv_shortcut: bool = True,
    name: str = "block",
    modality=None,
):
    """ResNet v1 bottleneck block in the keras.applications layout.

    As keras.applications (and unlike torchvision), the stride sits in the first 1x1 conv
    (`{name}_1_conv`) and in the projection (`{name}_0_conv`); the 3x3 conv has stride 1.

    Args:
        x: float32 [B, H, W, C].
        filters: bottleneck width; the block outputs 4 * filters channels.
        stride: stride of the first 1x1 conv and of the projection.
        conv_shortcut: project the shortcut with a 1x1 conv + BN (first block of a stage).
        name: layer name prefix, e.g. "conv2_block1".
        modality: int32 [B] or None; when given, every conv + BN unit is modality-gated
            (before the residual addition, which is not a node of its own).

    Returns:
        float32 [B, ceil(H/stride), ceil(W/stride), 4 * filters].
    """
    if conv_shortcut:
        shortcut = _conv_bn(x, 4 * filters, 1, stride, f"{name}_0", modality=modality)
    else:
        shortcut = x
    y = _conv_bn(x, filters, 1, stride, f"{name}_1", modality=modality)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = _conv_bn(y, filters, 3, 1, f"{name}_2", modality=modality, padding="same")
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = _conv_bn(y, 4 * filters, 1, 1, f"{name}_3", modality=modality)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def apply_stack(x, filters: int, blocks: int, stride: int, name: str, modality=None):
    """One ResNet-50 stage: a projecting bottleneck block then `blocks - 1` identity ones.

    Args:
        x: float32 [B, H, W, C].
        filters: bottleneck width (output 4 * filters channels).
        blocks: number of bottleneck blocks.
        stride: stride of the first block.
        name: stage name, e.g. "conv3" (blocks are f"{name}_block{i}", i from 1).
        modality: int32 [B] or None (gated blocks, see `apply_bottleneck_block`).

    Returns:
        float32 [B, ceil(H/stride), ceil(W/stride), 4 * filters].
    """
    x = apply_bottleneck_block(x, filters, stride=stride, name=f"{name}_block1", modality=modality)
    for index in range(2, blocks + 1):
        x = apply_bottleneck_block(
            x, filters, conv_shortcut=False, name=f"{name}_block{index}", modality=modality
        )
    return x
