"""PCB as HPILN uses it: torchreid's `pcb_p6` (Sun et al., ECCV 2018; HPILN Table 1: 224x224,
12288-d).

ResNet-50 with last stride 1 (a 14 x 14 map at 224 x 224), average-pooled over 6 horizontal
stripes with PyTorch's adaptive bins (`StripePooling`: at 14 rows the stripes overlap), which
gives v_g, 6 vectors of 2048. For the identity loss v_g goes through dropout, a shared 1x1 conv
2048 -> 256 + BN + ReLU and a classifier per stripe. The ranking feature and the test
embedding are v_g with every stripe L2-normalised, flattened (6 x 2048 = 12288), as torchreid
returns them; in training torchreid takes that feature after the dropout, and so do we.

The head is `tfreid.models.heads.PCBHead` in torchreid's reading (its IJCV 2020 reading, the
`pcb` head, has no ReLU and embeds the 256-d reduced stripes).
"""

from __future__ import annotations

import keras

from tfreid.config import ModelConfig
from tfreid.models.heads import PCBHead
from tfreid.models.networks.stages import Backbone

STRIPES = 6
REDUCED_DIM = 256
# torchreid: kaiming-normal (fan out) convs, N(0, 0.01²) classifiers with zero bias.
_CONV_INIT = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")
CLASSIFIER_STDDEV = 0.01


def build_pcb_p6(
    cfg: ModelConfig, backbone: Backbone, input_channels: int, num_classes: int, seed=None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """ResNet-50 of `backbone`'s layout with last stride 1, and torchreid's PCB head with
    dropout `cfg.dropout` (torchreid: 0.5) (the registry's arguments,
    `tfreid.models.networks.NETWORKS`)."""
    stages = backbone.stages(input_channels, last_stride=1)
    head = pcb_p6_head(num_classes, cfg.dropout)
    return stages, head


def pcb_p6_head(num_classes: int, dropout: float = 0.5) -> PCBHead:
    """`PCBHead` as torchreid's pcb_p6 builds it: see the module notes."""
    return PCBHead(
        REDUCED_DIM,
        num_classes,
        STRIPES,
        dropout,
        relu=True,
        embedding="stripes",
        classifier_stddev=CLASSIFIER_STDDEV,
        reduction_initializer=_CONV_INIT,
        reduction_layers="reduction",
        name="head",
    )
