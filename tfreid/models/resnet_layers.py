"""The layers of tfreid's ResNets: conv + BN units, stems and residual blocks.

ResNet-6 (ICCV 2017) and ResNet-50 in two layouts of the same layer names
(docs/pretrained_weights.md): keras.applications' (`KERAS_LAYOUT`: stride in the first 1x1
conv of a block, conv biases, BN epsilon 1.001e-5) and torchvision's, which the PyTorch papers
start from (`TORCHVISION_LAYOUT`: stride in the 3x3 conv, padded 1 on every side as torch
pads, no conv biases, BN epsilon 1e-5). `tfreid.models.backbones` assembles them into parts.
"""

from dataclasses import dataclass

from keras import layers

from tfreid.layers.batch_norm import BatchNorm
from tfreid.layers.modality_gate import ModalityGate

# keras.applications uses this epsilon; the ImageNet statistics were computed with it.
BN_EPSILON = 1.001e-5
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


def batch_norm(name: str, epsilon: float = BN_EPSILON, **kwargs) -> BatchNorm:
    """The batch norm of every tfreid network: keras.applications' epsilon by default (the
    ImageNet statistics were computed with it), synchronized so that under a multi-replica
    strategy the statistics are those of the global batch and N replicas train exactly as one
    device."""
    return BatchNorm(epsilon=epsilon, synchronized=True, name=name, **kwargs)


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
