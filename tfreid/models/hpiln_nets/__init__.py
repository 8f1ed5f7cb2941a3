"""The single-modality ReID networks HPILN reuses as one-stream extractors (HPILN Table 1).

Each is a list of stages and a head of the `tfreid.models` contract, keeping its native heads:
Res-Mid (`resmid`), MGN (`mgn`), PCB as torchreid's `pcb_p6` (`pcb_p6`), BFE / batch
DropBlock (`bfe`), MLFN (`mlfn`). The four ResNet-50 networks take the layout of
`model.backbone` (`resnet50`, keras.applications', or `resnet50_torchvision`, torchvision's as
in the networks' PyTorch code); every ResNet-50 stage (MGN's three branch copies included)
carries the backbone's layer names, so `load_imagenet_resnet50` fills it. The stages hold
exactly the ImageNet-initialised layers and the heads the new ones (BDB's extra bottleneck
included), so `ReIDModel.backbone_variables` is the ImageNet part. MLFN has its own trunk and
no layout; its ImageNet start is torchreid's checkpoint, converted (`tfreid.models.convert`).

Multi-head networks return one ranking feature per ranking head ("features" a list) and their
classifiers stacked ("logits" [B, S, C]); HPILN averages its losses over them (A1).
"""

from __future__ import annotations

import keras

from tfreid.config import ModelConfig
from tfreid.models.backbones import build_backbone, resnet50_layout
from tfreid.models.hpiln_nets.bfe import BFEHead
from tfreid.models.hpiln_nets.mgn import MGNHead, mgn_stages
from tfreid.models.hpiln_nets.mlfn import MLFNHead, mlfn_stages
from tfreid.models.hpiln_nets.pcb import PCBP6Head
from tfreid.models.hpiln_nets.resmid import ResMidHead, resmid_stages

__all__ = ["build_network"]


def build_network(
    cfg: ModelConfig, input_channels: int, num_classes: int, seed: int | None = None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """(stages, head) of the network `cfg.network` names.

    Args:
        cfg: the `model` config section; `network` picks the network, `backbone` the
            ResNet-50 layout, `dropout` is PCB's dropout rate, `bfe_embedding` BFE's test
            embedding.
        input_channels: channels of the (encoded) input image.
        num_classes: identities of the classifiers.
        seed: seed of BFE's batch DropBlock positions.
    """
    if cfg.network == "mlfn":
        return mlfn_stages(input_channels), MLFNHead(num_classes, name="head")
    if cfg.network == "resmid":
        return resmid_stages(input_channels, cfg.backbone), ResMidHead(num_classes, name="head")
    if cfg.network == "mgn":
        return mgn_stages(input_channels, cfg.backbone), MGNHead(num_classes, name="head")
    stages = build_backbone(cfg.backbone, input_channels, last_stride=1)
    if cfg.network == "pcb_p6":
        return stages, PCBP6Head(num_classes, cfg.dropout, name="head")
    if cfg.network == "bfe":
        layout = resnet50_layout(cfg.backbone)
        return stages, BFEHead(num_classes, cfg.bfe_embedding, seed, layout, name="head")
    raise ValueError(f"build_network: unknown network {cfg.network!r}")
