"""tfreid's networks, one module per architecture, and the registry of their config names.

Backbones (`model.backbone`) are lists of stages (`stages.Backbone`): ResNet-6 (`resnet6`),
ResNet-50 in keras.applications' and torchvision's layouts, plain or modality-gated
(`resnet50`). The structures of `tfreid.models.structures` put a head on them.

Networks (`model.network`) bring their own stages and heads, one-stream: Res-Mid (`resmid`),
MGN (`mgn`), PCB as torchreid's `pcb_p6` (`pcb`), BFE / batch DropBlock (`bfe`), MLFN
(`mlfn`), the five networks HPILN reuses (HPILN Table 1). The four ResNet-50 networks take
the layout of `model.backbone` (`resnet50`, keras.applications', or `resnet50_torchvision`,
torchvision's as in the networks' PyTorch code); every ResNet-50 stage (MGN's three branch
copies included) carries the backbone's layer names, so `load_imagenet_resnet50` fills it.
The stages hold exactly the ImageNet-initialised layers and the heads the new ones (BDB's
extra bottleneck included), so `ReIDModel.backbone_variables` is the ImageNet-initialised
part. MLFN has its own trunk and no layout; its ImageNet start is torchreid's checkpoint,
converted (`tfreid.models.convert`). Multi-head networks return one ranking feature per
ranking head ("features" a list) and their classifiers stacked ("logits" [B, S, C]); HPILN
averages its losses over them (docs/methods/hpiln.md, A1).

`BACKBONES` and `NETWORKS` are the one place that maps a config name to its builder; the
config's `Literal` lists the same names (tests/models/test_networks.py checks they agree).
"""

from __future__ import annotations

from collections.abc import Callable

import keras

from tfreid.config import ModelConfig
from tfreid.models.networks import bfe, mgn, mlfn, pcb, resmid, resnet6, resnet50
from tfreid.models.networks.resnet50 import Layout
from tfreid.models.networks.stages import Backbone

__all__ = [
    "BACKBONES",
    "NETWORKS",
    "backbone",
    "build_backbone",
    "build_network",
    "feature_channels",
    "is_gated",
    "is_resnet50",
    "num_stages",
    "resnet50_layout",
    "stage_prefix",
]

BACKBONES: dict[str, Backbone] = {
    record.name: record
    for record in (
        resnet6.RESNET6,
        resnet50.RESNET50,
        resnet50.GATED_RESNET50,
        resnet50.RESNET50_TORCHVISION,
        resnet50.GATED_RESNET50_TORCHVISION,
    )
}
# build(cfg, backbone, input_channels, num_classes, seed) -> (stages, head): `backbone` is the
# record of `cfg.backbone` (a ResNet-50 network's layout), `seed` seeds BFE's DropBlock.
NETWORKS: dict[str, Callable[..., tuple[list[keras.Model], keras.layers.Layer]]] = {
    "resmid": resmid.build_resmid,
    "mgn": mgn.build_mgn,
    "pcb_p6": pcb.build_pcb_p6,
    "bfe": bfe.build_bfe,
    "mlfn": mlfn.build_mlfn,
}
# Stages built outside BACKBONES whose prefix `stage_prefix` reads: MLFN's trunk.
_OTHER_STAGE_NAMES = {"mlfn": mlfn.STAGE_NAMES}


def backbone(name: str) -> Backbone:
    """The record of backbone `name` (ValueError naming the known ones)."""
    if name not in BACKBONES:
        raise ValueError(f"Unknown backbone {name!r}; expected one of {sorted(BACKBONES)}.")
    return BACKBONES[name]


def build_backbone(
    name: str, input_channels: int, last_stride: int = 2, prefix: str = ""
) -> list[keras.Model]:
    """Backbone `name` as a list of stages (stem, then residual stages), in order; see
    `Backbone.stages` for the arguments and the stages' inputs and outputs."""
    return backbone(name).stages(input_channels, last_stride, prefix)


def build_network(
    cfg: ModelConfig, input_channels: int, num_classes: int, seed: int | None = None
) -> tuple[list[keras.Model], keras.layers.Layer]:
    """(stages, head) of the network `cfg.network` names.

    Args:
        cfg: the `model` section; `network` picks the network, `backbone` the ResNet-50
            layout, `dropout` is PCB's dropout rate, `bfe_embedding` BFE's test embedding.
        input_channels: channels of the (encoded) input image.
        num_classes: identities of the classifiers.
        seed: seed of BFE's batch DropBlock positions.
    """
    if cfg.network not in NETWORKS:
        raise ValueError(f"build_network: unknown network {cfg.network!r}")
    return NETWORKS[cfg.network](cfg, backbone(cfg.backbone), input_channels, num_classes, seed)


def is_gated(name: str) -> bool:
    """Whether `name`'s stages take `[x, modality]` instead of `x`."""
    return backbone(name).gated


def is_resnet50(name: str) -> bool:
    """Whether `name` is a ResNet-50 of either layout, gated or not."""
    return backbone(name).layout is not None


def resnet50_layout(name: str) -> Layout:
    """The layout of ResNet-50 backbone `name` (ValueError for another backbone)."""
    if not is_resnet50(name):
        resnets = sorted(n for n, record in BACKBONES.items() if record.layout is not None)
        raise ValueError(f"{name!r} is not a ResNet-50; expected one of {resnets}")
    return BACKBONES[name].layout


def feature_channels(name: str) -> int:
    """Channels of the last stage's output (512 for ResNet-6, 2048 for a ResNet-50)."""
    return backbone(name).feature_channels


def num_stages(name: str) -> int:
    """Number of stages `build_backbone` returns (7 for ResNet-6, 5 for a ResNet-50)."""
    return len(backbone(name).stage_names)


def stage_prefix(stage: keras.Model) -> str:
    """The `prefix` a stage was built with, read from its name f"{prefix}{backbone}_{stage}"."""
    known = {name: record.stage_names for name, record in BACKBONES.items()}
    known.update(_OTHER_STAGE_NAMES)
    # Longest names first: "gated_resnet50_stem" also ends in "resnet50_stem".
    for owner in sorted(known, key=len, reverse=True):
        for stage_name in known[owner]:
            suffix = f"{owner}_{stage_name}"
            if stage.name.endswith(suffix):
                return stage.name[: -len(suffix)]
    raise ValueError(
        f"Model {stage.name!r} is not a stage built by build_backbone (expected a name ending "
        f"in '<backbone>_<stage>', e.g. 'resnet50_conv2')."
    )
