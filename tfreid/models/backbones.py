"""ResNet-6, ResNet-50 and modality-gated ResNet-50 backbones, split into a stem and stages.

A backbone is a list of small functional models ("parts"), each mapping a feature map
[B, H, W, C] to the next. A cross-modality structure builds the first N parts once per
modality (different `prefix`es give independent weights) and shares the rest, e.g. the ICCV
2017 two-stream network (2 specific + 4 shared blocks) is ResNet-6 with parts 0-2 (stem,
block1, block2) built per modality and parts 3-6 (block3-block6) shared.

Layer names are explicit and, for ResNet-50 with prefix "", equal keras.applications.ResNet50's,
so ImageNet weights load by name (`tfreid.models.pretrained.load_pretrained`).

ResNet-50 comes in two layouts of the same layer names (`tfreid.models.resnet_layers`):
"resnet50" is keras.applications', "resnet50_torchvision" torchvision's, which the PyTorch
papers start from. Each torchvision state-dict key has one layer here: conv1 / bn1 ->
conv1_conv / conv1_bn, layer{s}.{b}.conv{k} / bn{k} -> conv{s+1}_block{b+1}_{k}_conv / _bn,
layer{s}.0.downsample.0 / .1 -> conv{s+1}_block1_0_conv / _bn (`tfreid.models.convert`).

The gated ResNet-50 (Wu et al., IJCV 2020, Sec. 4.3) is ResNet-50 with every node replaced by
a modality-gated node: a `ModalityGate` on the output of every conv + BN unit (53 of them,
named f"{unit}_gate", e.g. "conv2_block1_1_gate"). Its parts take `[x, modality]` (modality
int [B], 0 = RGB, 1 = IR) and carry the same conv/BN layer names as ResNet-50.
"""

import keras

from tfreid.models.resnet_layers import (
    KERAS_LAYOUT,
    RESNET6_FILTERS,
    RESNET6_STEM_FILTERS,
    RESNET6_STRIDES,
    RESNET50_LAST_STAGE,
    RESNET50_STAGES,
    TORCHVISION_LAYOUT,
    Layout,
    apply_basic_block,
    apply_resnet6_stem,
    apply_resnet50_stem,
    apply_stack,
)

_RESNET50_LAYOUTS = {
    "resnet50": KERAS_LAYOUT,
    "gated_resnet50": KERAS_LAYOUT,
    "resnet50_torchvision": TORCHVISION_LAYOUT,
    "gated_resnet50_torchvision": TORCHVISION_LAYOUT,
}
_RESNET50_PARTS = ("stem", "conv2", "conv3", "conv4", "conv5")
PART_NAMES = {
    "resnet6": ("stem", "block1", "block2", "block3", "block4", "block5", "block6"),
    **{name: _RESNET50_PARTS for name in _RESNET50_LAYOUTS},
}
# Parts of other networks that `load_pretrained` fills: HPILN's MLFN trunk (hpiln_nets.mlfn).
OTHER_PART_NAMES = {"mlfn": ("trunk",)}


def _check_name(name: str) -> None:
    if name not in PART_NAMES:
        raise ValueError(f"Unknown backbone {name!r}; expected one of {sorted(PART_NAMES)}.")


def is_gated(name: str) -> bool:
    """Whether `name`'s parts take `[x, modality]` instead of `x`."""
    _check_name(name)
    return name.startswith("gated_")


def is_resnet50(name: str) -> bool:
    """Whether `name` is a ResNet-50 of either layout, gated or not."""
    _check_name(name)
    return name in _RESNET50_LAYOUTS


def resnet50_layout(name: str) -> Layout:
    """The layout of ResNet-50 backbone `name` (ValueError for another backbone)."""
    if not is_resnet50(name):
        raise ValueError(
            f"{name!r} is not a ResNet-50; expected one of {sorted(_RESNET50_LAYOUTS)}"
        )
    return _RESNET50_LAYOUTS[name]


def feature_channels(name: str) -> int:
    """Channels of the last part's output (512 for ResNet-6, 2048 for a ResNet-50)."""
    _check_name(name)
    return 4 * RESNET50_LAST_STAGE[1] if is_resnet50(name) else RESNET6_FILTERS[-1]


def num_parts(name: str) -> int:
    """Number of parts `build_backbone` returns (7 for ResNet-6, 5 for a ResNet-50)."""
    _check_name(name)
    return len(PART_NAMES[name])


def build_backbone(
    name: str, input_channels: int, last_stride: int = 2, prefix: str = ""
) -> list[keras.Model]:
    """Builds a backbone as a list of parts (stem, then stages), in order.

    Args:
        name: "resnet6", or a ResNet-50: "resnet50", "resnet50_torchvision" (the layouts of
            the module notes), "gated_resnet50", "gated_resnet50_torchvision".
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
    return _resnet50_parts(name, input_channels, last_stride, prefix)


def part_prefix(part: keras.Model) -> str:
    """The `prefix` a part was built with, read from its name f"{prefix}{backbone}_{part}"."""
    known = {**PART_NAMES, **OTHER_PART_NAMES}
    # Longest names first: "gated_resnet50_stem" also ends in "resnet50_stem".
    for backbone in sorted(known, key=len, reverse=True):
        for part_name in known[backbone]:
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
    name: str, input_channels: int, last_stride: int, prefix: str
) -> list[keras.Model]:
    base, gated, layout = f"{prefix}{name}", is_gated(name), resnet50_layout(name)
    parts = [
        functional_part(
            f"{base}_stem",
            input_channels,
            apply_resnet50_stem,
            gated=gated,
            prefix=prefix,
            layout=layout,
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
                layout=layout,
            )
        )
        channels = 4 * filters
    return parts
