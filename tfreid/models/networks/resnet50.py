"""ResNet-50 (He et al., CVPR 2016) in two layouts, plain or modality-gated: four backbones.

The two layouts carry the same layer names (docs/pretrained_weights.md): "resnet50" is
keras.applications' (`KERAS_LAYOUT`: stride in the first 1x1 conv of a block, conv biases, BN
epsilon 1.001e-5), "resnet50_torchvision" torchvision's, which the PyTorch papers start from
(`TORCHVISION_LAYOUT`: stride in the 3x3 conv, padded 1 on every side as torch pads, no conv
biases, BN epsilon 1e-5). With prefix "" the names equal keras.applications.ResNet50's, so
ImageNet weights load by name (`tfreid.models.pretrained.load_pretrained`), and each
torchvision state-dict key has one layer here: conv1 / bn1 -> conv1_conv / conv1_bn,
layer{s}.{b}.conv{k} / bn{k} -> conv{s+1}_block{b+1}_{k}_conv / _bn, layer{s}.0.downsample.0
/ .1 -> conv{s+1}_block1_0_conv / _bn (`tfreid.models.convert`).

The gated ResNet-50 (Wu et al., IJCV 2020, Sec. 4.3), "gated_resnet50" and
"gated_resnet50_torchvision", is ResNet-50 with every node replaced by a modality-gated node:
a `ModalityGate` on the output of every conv + BN unit (53 of them, named f"{unit}_gate", e.g.
"conv2_block1_1_gate"). Its stages take `[x, modality]` (modality int [B], 0 = RGB, 1 = IR)
and carry the same conv/BN layer names as ResNet-50. The stages are the stem and conv2-conv5.
"""

from dataclasses import dataclass

from keras import layers

from tfreid.layers.batch_norm import BN_EPSILON
from tfreid.models.networks.stages import Backbone, conv_bn, functional_stage

TORCH_BN_EPSILON = 1e-5  # torch.nn.BatchNorm2d's default, torchvision's ResNet-50's


@dataclass(frozen=True)
class Layout:
    """How a ResNet-50 bottleneck strides, pads and normalises, and the backbone it builds.

    Attributes:
        backbone: the plain (ungated) backbone of this layout, e.g. "resnet50_torchvision".
        stride_in_3x3: the stride of a block sits in its 3x3 conv (torchvision), else in its
            first 1x1 conv (keras.applications).
        conv_bias: convolutions carry a bias.
        bn_epsilon: every batch norm's epsilon.
    """

    backbone: str
    stride_in_3x3: bool
    conv_bias: bool
    bn_epsilon: float


KERAS_LAYOUT = Layout("resnet50", stride_in_3x3=False, conv_bias=True, bn_epsilon=BN_EPSILON)
TORCHVISION_LAYOUT = Layout(
    "resnet50_torchvision", stride_in_3x3=True, conv_bias=False, bn_epsilon=TORCH_BN_EPSILON
)


# ResNet-50 v1 (He et al., CVPR 2016): (stage name, bottleneck filters, blocks, stride).
RESNET50_STAGES = (("conv2", 64, 3, 1), ("conv3", 128, 4, 2), ("conv4", 256, 6, 2))
RESNET50_LAST_STAGE = ("conv5", 512, 3)


def _resnet50_unit(x, filters: int, kernel_size: int, stride: int, name: str, layout, modality):
    """A ResNet-50 conv + BN unit in `layout`. A 3x3 conv pads 1 on every side as torch does:
    Keras's 'same' pads only after the map when the stride is 2 and the size even, so a
    strided torchvision conv gets explicit padding (f"{name}_pad") and 'valid'."""
    padding = "same" if kernel_size > 1 else "valid"
    if kernel_size > 1 and stride > 1:
        x = layers.ZeroPadding2D(kernel_size // 2, name=f"{name}_pad")(x)
        padding = "valid"
    return conv_bn(
        x,
        filters,
        kernel_size,
        stride,
        name,
        modality=modality,
        epsilon=layout.bn_epsilon,
        padding=padding,
        use_bias=layout.conv_bias,
    )


def apply_resnet50_stem(x, prefix: str = "", modality=None, layout: Layout = KERAS_LAYOUT):
    """ResNet-50 stem: 7x7/2 conv (padded 3) + BN + ReLU + 3x3/2 max pooling (padded 1).

    The same in both layouts but for the conv's bias and the BN epsilon; the pooling's zero
    padding acts as torch's -inf padding because it follows a ReLU.

    Args:
        x: float32 [B, H, W, C] image.
        prefix: prepended to the keras.applications layer names.
        modality: int32 [B] or None; when given, the conv + BN unit is modality-gated.
        layout: `KERAS_LAYOUT` or `TORCHVISION_LAYOUT`.

    Returns:
        float32 [B, H', W', 64] with output stride 4.
    """
    x = layers.ZeroPadding2D(padding=3, name=f"{prefix}conv1_pad")(x)
    x = conv_bn(
        x,
        64,
        7,
        2,
        f"{prefix}conv1",
        modality=modality,
        epsilon=layout.bn_epsilon,
        use_bias=layout.conv_bias,
    )
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
    layout: Layout = KERAS_LAYOUT,
):
    """ResNet v1 bottleneck block: 1x1, 3x3, 1x1 conv + BN units, shortcut added before the
    last ReLU.

    keras.applications strides in the first 1x1 conv (`{name}_1_conv`), torchvision in the
    3x3 conv (`{name}_2_conv`); both stride the projection (`{name}_0_conv`).

    Args:
        x: float32 [B, H, W, C].
        filters: bottleneck width; the block outputs 4 * filters channels.
        stride: stride of the block (and of the projection).
        conv_shortcut: project the shortcut with a 1x1 conv + BN (first block of a stage).
        name: layer name prefix, e.g. "conv2_block1".
        modality: int32 [B] or None; when given, every conv + BN unit is modality-gated
            (before the residual addition, which is not a node of its own).
        layout: `KERAS_LAYOUT` or `TORCHVISION_LAYOUT`.

    Returns:
        float32 [B, ceil(H/stride), ceil(W/stride), 4 * filters].
    """
    strides = (1, stride) if layout.stride_in_3x3 else (stride, 1)

    def unit(y, width, kernel_size, unit_stride, index):
        return _resnet50_unit(
            y, width, kernel_size, unit_stride, f"{name}_{index}", layout, modality
        )

    shortcut = unit(x, 4 * filters, 1, stride, 0) if conv_shortcut else x
    y = unit(x, filters, 1, strides[0], 1)
    y = layers.Activation("relu", name=f"{name}_1_relu")(y)
    y = unit(y, filters, 3, strides[1], 2)
    y = layers.Activation("relu", name=f"{name}_2_relu")(y)
    y = unit(y, 4 * filters, 1, 1, 3)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y)


def apply_stack(
    x,
    filters: int,
    blocks: int,
    stride: int,
    name: str,
    modality=None,
    layout: Layout = KERAS_LAYOUT,
):
    """One ResNet-50 stage: a projecting bottleneck block then `blocks - 1` identity ones.

    Args:
        x: float32 [B, H, W, C].
        filters: bottleneck width (output 4 * filters channels).
        blocks: number of bottleneck blocks.
        stride: stride of the first block.
        name: stage name, e.g. "conv3" (blocks are f"{name}_block{i}", i from 1).
        modality: int32 [B] or None (gated blocks, see `apply_bottleneck_block`).
        layout: `KERAS_LAYOUT` or `TORCHVISION_LAYOUT`.

    Returns:
        float32 [B, ceil(H/stride), ceil(W/stride), 4 * filters].
    """
    x = apply_bottleneck_block(
        x, filters, stride=stride, name=f"{name}_block1", modality=modality, layout=layout
    )
    for index in range(2, blocks + 1):
        x = apply_bottleneck_block(
            x,
            filters,
            conv_shortcut=False,
            name=f"{name}_block{index}",
            modality=modality,
            layout=layout,
        )
    return x


def resnet50_stages(backbone: Backbone, input_channels: int, last_stride: int, prefix: str):
    """The stem and conv2-conv5 as functional models (arguments as `Backbone.stages`)."""
    base, gated, layout = f"{prefix}{backbone.name}", backbone.gated, backbone.layout
    stages = [
        functional_stage(
            f"{base}_stem",
            input_channels,
            apply_resnet50_stem,
            gated=gated,
            prefix=prefix,
            layout=layout,
        )
    ]
    channels = 64
    specs = RESNET50_STAGES + (RESNET50_LAST_STAGE + (last_stride,),)
    for stage, filters, blocks, stride in specs:
        stages.append(
            functional_stage(
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
    return stages


def _backbone(name: str, layout: Layout) -> Backbone:
    stage_names = ("stem", *(stage[0] for stage in RESNET50_STAGES), RESNET50_LAST_STAGE[0])
    channels = 4 * RESNET50_LAST_STAGE[1]
    gated = name.startswith("gated_")
    return Backbone(name, stage_names, channels, resnet50_stages, gated=gated, layout=layout)


RESNET50 = _backbone("resnet50", KERAS_LAYOUT)
RESNET50_TORCHVISION = _backbone("resnet50_torchvision", TORCHVISION_LAYOUT)
GATED_RESNET50 = _backbone("gated_resnet50", KERAS_LAYOUT)
GATED_RESNET50_TORCHVISION = _backbone("gated_resnet50_torchvision", TORCHVISION_LAYOUT)
