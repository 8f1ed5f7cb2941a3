"""Res-Mid ("ResNet-mid", Yu et al., "The Devil is in the Middle", 2017), as torchreid's
`resnet50mid` builds it, one of HPILN's five backbones (HPILN Table 1: 224x224, 3072-d).

ResNet-50 (last stride 2) whose three conv5 blocks are read one by one: the pooled outputs of
res5a and res5b are fused by an FC layer (1024, BN, ReLU) and concatenated with the pooled
res5c output, v = [fusion(GAP res5a ‖ GAP res5b) ‖ GAP res5c] (1024 + 2048 = 3072), the test
embedding, the ranking feature and the input of the one identity classifier.
"""

from __future__ import annotations

import keras
from keras import ops

from tfreid.config import ModelConfig
from tfreid.layers.batch_norm import batch_norm
from tfreid.models.networks.resnet50 import apply_bottleneck_block
from tfreid.models.networks.stages import Backbone, functional_stage

FUSION_DIM = 1024
# torchreid initialises its FC layers with N(0, 0.01²) and zero biases.
_FC_INIT = keras.initializers.RandomNormal(stddev=0.01)


def build_resmid(
    cfg: ModelConfig, backbone: Backbone, input_channels: int, num_classes: int, seed=None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """Res-Mid's stages and head (the registry's arguments, `tfreid.models.networks.NETWORKS`).

    The stages are ResNet-50's stem..conv4 in `backbone`'s layout, then conv5 returning the
    output of each of its three blocks: the last stage maps float [B, h, w, 1024] to [res5a,
    res5b, res5c], each float [B, h/2, w/2, 2048]. Layer names are the backbone's, so ImageNet
    weights load by name.
    """
    stages = backbone.stages(input_channels, last_stride=2)[:4]
    conv5 = functional_stage(
        f"{backbone.name}_conv5", 1024, _apply_conv5_blocks, layout=backbone.layout
    )
    return stages + [conv5], ResMidHead(num_classes, name="head")


def _apply_conv5_blocks(x, layout):
    res5a = apply_bottleneck_block(x, 512, stride=2, name="conv5_block1", layout=layout)
    res5b = apply_bottleneck_block(
        res5a, 512, conv_shortcut=False, name="conv5_block2", layout=layout
    )
    res5c = apply_bottleneck_block(
        res5b, 512, conv_shortcut=False, name="conv5_block3", layout=layout
    )
    return [res5a, res5b, res5c]


class ResMidHead(keras.layers.Layer):
    """[res5a, res5b, res5c] -> v = [fusion(GAP a ‖ GAP b) ‖ GAP c] -> classifier.

    Called as `head([[res5a, res5b, res5c], modality], sizes=None, training=False)`.
    Outputs: `features` and `embedding` v, float [B, 3072]; `logits` [B, num_classes].
    """

    def __init__(self, num_classes: int, **kwargs):
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.fusion = keras.layers.Dense(FUSION_DIM, kernel_initializer=_FC_INIT, name="fusion")
        self.fusion_bn = batch_norm("fusion_bn")
        self.classifier = keras.layers.Dense(
            num_classes, kernel_initializer=_FC_INIT, name="classifier"
        )

    def call(self, inputs, sizes=None, training=False):
        (res5a, res5b, res5c), _ = inputs
        middle = ops.concatenate([self.pool(res5a), self.pool(res5b)], axis=1)
        fused = ops.relu(self.fusion_bn(self.fusion(middle), training=training))
        v = ops.concatenate([fused, self.pool(res5c)], axis=1)
        return {"features": v, "embedding": v, "logits": self.classifier(v)}
