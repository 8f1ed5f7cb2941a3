"""MGN, Multiple Granularity Network (Wang et al., ACM MM 2018), as `seathiefwang/MGN-pytorch`
builds it, one of HPILN's five backbones (HPILN Table 1: 384x128, 2048-d).

A shared trunk (ResNet-50 conv1..conv3 and the first conv4 block) feeds three branches, each
with its own copy of the remaining conv4 blocks and of conv5 (ImageNet weights in every copy):
the global branch keeps conv5's stride 2 (12 x 4 at 384x128), the two part branches use stride
1 (24 x 8). Global max pooling of each branch gives 3 global vectors; the part-2 branch is also
max-pooled over 2 horizontal stripes and the part-3 branch over 3 (8 local vectors in all).
Each of the 8 vectors has its own reduction, 1x1 conv 2048 -> 256 (no bias) + BN + ReLU, and
its own classifier. The test embedding is the 8 reduced features concatenated (2048); the
ranking loss sees the three reduced global features (docs/methods/hpiln.md, A1).

MGN pools by max (the paper; the repo's `--pool` default is avg). At 384x128 its fixed pooling
kernels (12x8, 8x8) are exactly the stripes; other sizes use PyTorch's adaptive bins.
"""

from __future__ import annotations

import math

import keras
from keras import ops

from tfreid.config import ModelConfig
from tfreid.layers.batch_norm import batch_norm
from tfreid.layers.stripe_pooling import StripePooling
from tfreid.models.networks.resnet50 import apply_bottleneck_block, apply_stack
from tfreid.models.networks.stages import Backbone, functional_stage

BRANCHES = (("global", 2), ("part2", 1), ("part3", 1))  # (name, conv5 stride)
PART_STRIPES = (2, 3)  # stripes of the part-2 and part-3 branches
HEADS = len(BRANCHES) + sum(PART_STRIPES)  # 8 reduced features
REDUCED_DIM = 256


def build_mgn(
    cfg: ModelConfig, backbone: Backbone, input_channels: int, num_classes: int, seed=None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """MGN's stages and head (the registry's arguments, `tfreid.models.networks.NETWORKS`).

    The stages are the shared trunk (stem, conv2, conv3, conv4_block1 of ResNet-50 in
    `backbone`'s layout) and the three branches: the last stage maps float [B, h, w, 1024] to
    the branch maps [global, part2, part3], float [B, h/2, w/2, 2048], [B, h, w, 2048],
    [B, h, w, 2048]. Branch layers are named f"{branch}_" + the backbone's layer name, so
    ImageNet weights load into every copy.
    """
    layout = backbone.layout
    trunk = backbone.stages(input_channels, last_stride=2)[:3]
    first = functional_stage(
        f"{backbone.name}_conv4_block1",
        512,
        apply_bottleneck_block,
        filters=256,
        stride=2,
        name="conv4_block1",
        layout=layout,
    )
    branches = functional_stage("mgn_branches", 1024, _apply_branches, layout=layout)
    return trunk + [first, branches], MGNHead(num_classes, name="head")


def _apply_branches(x, layout):
    maps = []
    for branch, stride in BRANCHES:
        y = x
        for index in range(2, 7):
            y = apply_bottleneck_block(
                y, 256, conv_shortcut=False, name=f"{branch}_conv4_block{index}", layout=layout
            )
        maps.append(apply_stack(y, 512, 3, stride, name=f"{branch}_conv5", layout=layout))
    return maps


class MGNHead(keras.layers.Layer):
    """Branch maps -> 8 max-pooled vectors -> 8 reductions -> 8 classifiers.

    The 8 reductions (and the 8 classifiers) are one einsum over a per-head kernel: the same
    parameters and outputs as 8 separate layers; the batch norm over the 8 x 256 reduced
    values keeps per-head statistics, as 8 batch norms would.

    Called as `head([[global, part2, part3], modality], sizes=None, training=False)`.
    Outputs: `features` a list of the 3 reduced global features, each float [B, 256];
    `embedding` float [B, 2048], the 8 reduced features in MGN's order (global 1-3, part-2
    stripes, part-3 stripes); `logits` [B, 8, num_classes] in the same order.
    """

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.global_pool = keras.layers.GlobalMaxPooling2D(name="global_pool")
        self.stripe_pools = [
            StripePooling(stripes, pooling="max", name=f"part{stripes}_pool")
            for stripes in PART_STRIPES
        ]
        # MGN-pytorch: kaiming-normal reductions (fan in), BN weight N(1, 0.02²),
        # kaiming-normal classifiers (fan out, torch's fan of a [C, 256] weight is C).
        self.reduction = keras.layers.EinsumDense(
            "bhd,hde->bhe",
            output_shape=(HEADS, REDUCED_DIM),
            kernel_initializer=keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / 2048)),
            name="reduction",
        )
        self.reduction_bn = batch_norm(
            "reduction_bn", gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02)
        )
        self.classifier = keras.layers.EinsumDense(
            "bhe,hec->bhc",
            output_shape=(HEADS, num_classes),
            bias_axes="hc",
            kernel_initializer=keras.initializers.RandomNormal(stddev=math.sqrt(2.0 / num_classes)),
            name="classifier",
        )

    def call(self, inputs, sizes=None, training=False):
        maps, _ = inputs
        pooled = [self.global_pool(branch)[:, None] for branch in maps]
        pooled += [pool(branch) for pool, branch in zip(self.stripe_pools, maps[1:])]
        vectors = ops.concatenate(pooled, axis=1)  # [B, 8, 2048]
        flat = ops.reshape(self.reduction(vectors), (-1, HEADS * REDUCED_DIM))
        flat = ops.relu(self.reduction_bn(flat, training=training))
        reduced = ops.reshape(flat, (-1, HEADS, REDUCED_DIM))
        features = [reduced[:, branch] for branch in range(len(BRANCHES))]
        return {"features": features, "embedding": flat, "logits": self.classifier(reduced)}
