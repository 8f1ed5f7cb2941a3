"""BFE / BDB, the Batch DropBlock network (Dai et al., ICCV 2019), as the public code
(`daizuozhuo/batch-dropblock-network`, class `BFE`) builds it, one of HPILN's five backbones
(HPILN Table 1: 256x128, 1024-d).

ResNet-50 with last stride 1 (16 x 8 at 256x128) feeds two branches:
- global: GAP -> 1x1 conv 2048 -> 512 (with bias) + BN + ReLU, the 512-d feature -> classifier;
- BDB ("feature erasing"): a new, randomly initialised bottleneck (2048 -> 512 -> 2048) ->
  `BatchDrop` (training only: one full-width band of floor(0.33 H) rows at the same place for
  the whole batch) -> global max pooling -> FC 1024 + BN + ReLU, the 1024-d feature ->
  classifier.
Both features carry the ranking loss, both classifiers the identity loss (A1). The test
embedding: HPILN Table 1 says 1024, the BDB feature (`embedding="bdb"`, our default); the
public code concatenates both, 1536 (`embedding="concat"`) (A3). A1, A3: the choices of
docs/methods/hpiln.md.
"""

from __future__ import annotations

import keras
from keras import ops

from tfreid.config import ModelConfig
from tfreid.layers.batch_drop import BatchDrop
from tfreid.layers.batch_norm import batch_norm
from tfreid.models.networks.resnet50 import KERAS_LAYOUT, Layout, apply_bottleneck_block
from tfreid.models.networks.stages import Backbone, functional_stage

GLOBAL_DIM = 512
BDB_DIM = 1024
DROP_HEIGHT, DROP_WIDTH = 0.33, 1.0  # BDB's person re-id setting (main_reid.py)
EMBEDDINGS = ("bdb", "concat")

# The public code's `weights_init_kaiming`: convs kaiming-normal (fan in), linear layers
# kaiming-normal (fan out), BN weight N(1, 0.02²), zero biases.
_FAN_IN = keras.initializers.VarianceScaling(2.0, "fan_in", "untruncated_normal")
_FAN_OUT = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def build_bfe(
    cfg: ModelConfig, backbone: Backbone, input_channels: int, num_classes: int, seed=None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """ResNet-50 of `backbone`'s layout with last stride 1, and the two branches (the
    registry's arguments, `tfreid.models.networks.NETWORKS`; `cfg.bfe_embedding` picks the
    test embedding, `seed` seeds BatchDrop)."""
    stages = backbone.stages(input_channels, last_stride=1)
    head = BFEHead(num_classes, cfg.bfe_embedding, seed, backbone.layout, name="head")
    return stages, head


def _bn(name: str) -> keras.layers.BatchNormalization:
    return batch_norm(name, gamma_initializer=keras.initializers.RandomNormal(1.0, 0.02))


class BFEHead(keras.layers.Layer):
    """The global and BDB branches on the conv5 map (last stride 1).

    Called as `head([x, modality], sizes=None, training=False)` with x float [B, H, W, 2048].
    Outputs: `features` [global float [B, 512], BDB float [B, 1024]]; `embedding` the BDB
    feature [B, 1024] or both concatenated [B, 1536]; `logits` [B, 2, num_classes] (global,
    BDB).

    Args:
        num_classes: identities.
        embedding: "bdb" (HPILN Table 1) or "concat" (the public code).
        seed: seed of BatchDrop's band positions (None: Keras's global seed).
        layout: the ResNet-50 layout of the BDB bottleneck, the backbone's (BDB's code builds
            torchvision's `Bottleneck`).
    """

    def __init__(
        self,
        num_classes: int,
        embedding: str = "bdb",
        seed=None,
        layout: Layout = KERAS_LAYOUT,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if embedding not in EMBEDDINGS:
            raise ValueError(f"BFEHead embedding must be one of {EMBEDDINGS}, got {embedding!r}")
        self.num_classes, self.embedding, self.seed = num_classes, embedding, seed
        self.global_pool = keras.layers.GlobalAveragePooling2D(name="global_pool")
        self.global_reduction = keras.layers.Dense(
            GLOBAL_DIM, kernel_initializer=_FAN_IN, name="global_reduction"
        )
        self.global_bn = _bn("global_bn")
        self.global_classifier = keras.layers.Dense(
            num_classes, kernel_initializer=_FAN_OUT, name="global_classifier"
        )
        self.bottleneck = functional_stage(
            "bdb_bottleneck",
            2048,
            apply_bottleneck_block,
            filters=512,
            conv_shortcut=False,
            name="bdb_block",
            layout=layout,
        )
        self.drop = BatchDrop(DROP_HEIGHT, DROP_WIDTH, seed=seed, name="batch_drop")
        self.bdb_pool = keras.layers.GlobalMaxPooling2D(name="bdb_pool")
        self.bdb_reduction = keras.layers.Dense(
            BDB_DIM, kernel_initializer=_FAN_OUT, name="bdb_reduction"
        )
        self.bdb_bn = _bn("bdb_bn")
        self.bdb_classifier = keras.layers.Dense(
            num_classes, kernel_initializer=_FAN_OUT, name="bdb_classifier"
        )

    def call(self, inputs, sizes=None, training=False):
        x, _ = inputs
        reduced = self.global_reduction(self.global_pool(x))
        global_feature = ops.relu(self.global_bn(reduced, training=training))
        erased = self.drop(self.bottleneck(x, training=training), training=training)
        reduced = self.bdb_reduction(self.bdb_pool(erased))
        bdb_feature = ops.relu(self.bdb_bn(reduced, training=training))
        logits = ops.stack(
            [self.global_classifier(global_feature), self.bdb_classifier(bdb_feature)], axis=1
        )
        if self.embedding == "bdb":
            embedding = bdb_feature
        else:
            embedding = ops.concatenate([global_feature, bdb_feature], axis=1)
        return {"features": [global_feature, bdb_feature], "embedding": embedding, "logits": logits}
