"""MLFN, Multi-Level Factorisation Net (Chang et al., CVPR 2018), as torchreid's `mlfn` builds
it, one of HPILN's five backbones (HPILN Table 1: 224x224, 1024-d).

Stem: 7x7/2 conv (64, with bias) + BN + ReLU + 3x3/2 max pooling. Then 16 MLFN blocks in four
stages of 3, 4, 6, 3 blocks (256, 512, 1024, 2048 channels; stride 2 in the first block of
stages 2-4). A block is ResNeXt-like: 1x1 conv to half the output width, a 3x3 conv in 32
groups (the 32 factor modules), each group's channels scaled by its factor-selection weight,
1x1 conv to the output width, every conv followed by BN + ReLU, plus the (projected) shortcut,
then ReLU. The factor selection module (FSM) reads the block input: GAP -> 1x1 conv + BN + ReLU
twice -> 1x1 conv to 32 + BN + sigmoid. The head: v = (fc_x(GAP x) + fc_s(S)) / 2, where S
concatenates the 16 FSM outputs (16 x 32 = 512) and fc_x, fc_s are 1x1 conv to 1024 + BN +
ReLU; v is the test embedding, the ranking feature and the classifier input.

There are no public Keras weights (torchreid's own ImageNet checkpoint is PyTorch): MLFN trains
from scratch unless `model.pretrained_weights` names a Keras weights file of the trunk (e.g.
converted from torchreid's checkpoint: block{i}_fm{j} is `feature.{i-1}.fm_conv{j}` /
`fm_bn{j}`, block{i}_fsm{j} the FSM's j-th conv / BN, block{i}_downsample the shortcut).
Paddings are explicit and symmetric, as PyTorch's, so converted weights see the same pixels;
BN epsilon is PyTorch's 1e-5. Initialisation as torchreid: kaiming-normal convs (fan out), BN
1 / 0, N(0, 0.01²) FC layers.
"""

from __future__ import annotations

import keras
from keras import layers, ops

from tfreid.config import ModelConfig
from tfreid.layers.batch_norm import batch_norm
from tfreid.layers.grouped_conv import GroupedConv2D
from tfreid.models.networks.stages import Backbone, functional_stage

GROUPS = 32
# (output channels, blocks, stride of the first block, FSM widths) per stage
STAGES = (
    (256, 3, 1, (128, 64)),
    (512, 4, 2, (256, 128)),
    (1024, 6, 2, (512, 128)),
    (2048, 3, 2, (512, 128)),
)
EMBED_DIM = 1024
STAGE_NAMES = ("trunk",)  # one stage of tfreid's: the stem and the 16 blocks, named "mlfn_trunk"
_CONV_INIT = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def build_mlfn(
    cfg: ModelConfig, backbone: Backbone, input_channels: int, num_classes: int, seed=None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """MLFN's trunk and head (the registry's arguments, `tfreid.models.networks.NETWORKS`;
    MLFN builds its own trunk, so `backbone` is not read)."""
    return mlfn_stages(input_channels), MLFNHead(num_classes, name="head")


def mlfn_stages(input_channels: int) -> list[keras.Model]:
    """One stage: image float [B, H, W, C] -> [x float [B, H/32, W/32, 2048], S float [B, 512]]."""
    return [functional_stage("mlfn_trunk", input_channels, apply_mlfn_trunk)]


def _conv_bn(x, filters, kernel, name, stride=1, groups=1, padding=0, use_bias=False):
    if padding:
        x = layers.ZeroPadding2D(padding, name=f"{name}_pad")(x)
    conv = GroupedConv2D if groups > 1 else layers.Conv2D  # see GroupedConv2D: no XLA
    x = conv(
        filters,
        kernel,
        strides=stride,
        groups=groups,
        use_bias=use_bias,
        kernel_initializer=_CONV_INIT,
        name=f"{name}_conv",
    )(x)
    return batch_norm(f"{name}_bn", epsilon=1e-5)(x)


def apply_fsm(x, widths, name: str):
    """The factor selection module: float [B, H, W, C] -> 32 weights in (0, 1), float [B, 32]."""
    s = layers.GlobalAveragePooling2D(name=f"{name}_pool")(x)
    for index, width in enumerate(widths):
        s = _dense_bn(s, width, f"{name}{index}")
        s = layers.Activation("relu", name=f"{name}{index}_relu")(s)
    s = _dense_bn(s, GROUPS, f"{name}{len(widths)}")
    return layers.Activation("sigmoid", name=f"{name}{len(widths)}_sigmoid")(s)


def _dense_bn(x, units, name):
    # A 1x1 conv (with bias, as torchreid's FSM) on a pooled 1x1 map is a dense layer.
    x = layers.Dense(units, kernel_initializer=_CONV_INIT, name=f"{name}_conv")(x)
    return batch_norm(f"{name}_bn", epsilon=1e-5)(x)


def apply_mlfn_block(x, filters: int, stride: int, fsm_widths, name: str):
    """One MLFN block: (float [B, H, W, C], its FSM output float [B, 32])."""
    selection = apply_fsm(x, fsm_widths, f"{name}_fsm")
    y = _conv_bn(x, filters // 2, 1, f"{name}_fm1")
    y = layers.Activation("relu", name=f"{name}_fm1_relu")(y)
    y = _conv_bn(y, filters // 2, 3, f"{name}_fm2", stride, GROUPS, padding=1)
    y = layers.Activation("relu", name=f"{name}_fm2_relu")(y)
    # Group g of the grouped conv owns the g-th run of filters / 2 / 32 channels.
    scale = ops.repeat(selection, filters // 2 // GROUPS, axis=1)
    y = layers.Multiply(name=f"{name}_select")([y, scale[:, None, None, :]])
    y = _conv_bn(y, filters, 1, f"{name}_fm3")
    y = layers.Activation("relu", name=f"{name}_fm3_relu")(y)
    shortcut = x
    if x.shape[-1] != filters or stride > 1:
        shortcut = _conv_bn(x, filters, 1, f"{name}_downsample", stride)
    y = layers.Add(name=f"{name}_add")([shortcut, y])
    return layers.Activation("relu", name=f"{name}_out")(y), selection


def apply_mlfn_trunk(x):
    """Stem and the 16 blocks: [final map, the 16 FSM outputs concatenated (512)]."""
    x = _conv_bn(x, 64, 7, "stem", stride=2, padding=3, use_bias=True)
    x = layers.Activation("relu", name="stem_relu")(x)
    x = layers.ZeroPadding2D(1, name="stem_pool_pad")(x)  # after a ReLU, 0 pads as -inf would
    x = layers.MaxPooling2D(3, strides=2, name="stem_pool")(x)
    selections = []
    index = 1
    for filters, blocks, stride, fsm_widths in STAGES:
        for block in range(blocks):
            x, s = apply_mlfn_block(
                x, filters, stride if block == 0 else 1, fsm_widths, f"block{index}"
            )
            selections.append(s)
            index += 1
    return [x, layers.Concatenate(name="fsm_concat")(selections)]


class MLFNHead(keras.layers.Layer):
    """[x, S] -> v = (fc_x(GAP x) + fc_s(S)) / 2 -> classifier.

    Called as `head([[x, S], modality], sizes=None, training=False)`.
    Outputs: `features` and `embedding` v, float [B, 1024]; `logits` [B, num_classes].
    """

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.fc_x = keras.layers.Dense(
            EMBED_DIM, use_bias=False, kernel_initializer=_CONV_INIT, name="fc_x"
        )
        self.fc_x_bn = batch_norm("fc_x_bn", epsilon=1e-5)
        self.fc_s = keras.layers.Dense(
            EMBED_DIM, use_bias=False, kernel_initializer=_CONV_INIT, name="fc_s"
        )
        self.fc_s_bn = batch_norm("fc_s_bn", epsilon=1e-5)
        self.classifier = keras.layers.Dense(
            num_classes,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="classifier",
        )

    def call(self, inputs, sizes=None, training=False):
        (x, selections), _ = inputs
        from_map = ops.relu(self.fc_x_bn(self.fc_x(self.pool(x)), training=training))
        from_factors = ops.relu(self.fc_s_bn(self.fc_s(selections), training=training))
        v = (from_map + from_factors) * 0.5
        return {"features": v, "embedding": v, "logits": self.classifier(v)}
