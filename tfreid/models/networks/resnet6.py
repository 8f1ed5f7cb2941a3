"""ResNet-6 (Wu et al., ICCV 2017, Sec. 5.1): a stem and six residual blocks, one stage each.

The ICCV 2017 two-stream network (2 specific + 4 shared blocks) is ResNet-6 with stages 0-2
(stem, block1, block2) built per modality and stages 3-6 (block3-block6) shared.

The paper gives the six widths and is silent on the rest; we follow ResNet [9]: a 7x7
stride-2 stem conv (16 filters, the width of the first block), basic blocks of two 3x3 convs,
a projection shortcut when the shape changes, and stride 2 in the first conv of every block
that widens the map. There is no max pooling, so the output stride is 32 (224x224 -> 7x7), as
for ResNet-50.
"""

from keras import layers

from tfreid.models.networks.stages import Backbone, conv_bn, functional_stage

RESNET6_STEM_FILTERS = 16
RESNET6_STEM_KERNEL = 7
RESNET6_FILTERS = (16, 16, 64, 128, 256, 512)
RESNET6_STRIDES = (1, 1, 2, 2, 2)  # block6's stride is `last_stride`


def apply_resnet6_stem(x, name: str):
    """7x7 stride-2 conv + BN + ReLU (no pooling, see the module notes).

    Args:
        x: float32 [B, H, W, C] image.
        name: layer name prefix, e.g. "conv1".

    Returns:
        float32 [B, ceil(H/2), ceil(W/2), 16].
    """
    x = conv_bn(
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
        shortcut = conv_bn(x, filters, 1, stride, f"{name}_0", **conv_kwargs)
    else:
        shortcut = x
    y = conv_bn(x, filters, 3, stride, f"{name}_1", **conv_kwargs)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = conv_bn(y, filters, 3, 1, f"{name}_2", **conv_kwargs)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def resnet6_stages(backbone: Backbone, input_channels: int, last_stride: int, prefix: str):
    """The stem and the six blocks as functional models (arguments as `Backbone.stages`)."""
    base = f"{prefix}{backbone.name}"
    stages = [
        functional_stage(f"{base}_stem", input_channels, apply_resnet6_stem, name=f"{prefix}conv1")
    ]
    channels = RESNET6_STEM_FILTERS
    strides = RESNET6_STRIDES + (last_stride,)
    for index, (filters, stride) in enumerate(zip(RESNET6_FILTERS, strides, strict=True)):
        block = f"block{index + 1}"
        stages.append(
            functional_stage(
                f"{base}_{block}",
                channels,
                apply_basic_block,
                filters=filters,
                stride=stride,
                name=f"{prefix}{block}",
            )
        )
        channels = filters
    return stages


RESNET6 = Backbone(
    "resnet6",
    ("stem", "block1", "block2", "block3", "block4", "block5", "block6"),
    RESNET6_FILTERS[-1],
    resnet6_stages,
)
