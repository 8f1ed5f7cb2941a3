"""The ReID models of the `model` config section, built from stems, shared stages and a head.

Structures (Wu et al., ICCV 2017, Fig. 3): `one_stream` shares everything; `two_stream` builds
the first `specific_stages` backbone stages once per modality; `asymmetric_fc` shares the
backbone and makes the head's feature layer modality-specific. The input encodings (gray,
zero-padding, domain indicator, 3-channel) are a layer in front of all of them. The IJCV 2020
Modality-Gated Extractor is the one-stream structure on `gated_resnet50` with the PCB head.
HPILN's single-modality networks (`model.network`, `tfreid.models.hpiln_nets`) are one-stream
with their own stages and heads.
"""

from __future__ import annotations

from keras import ops

from tfreid.config import Config, ConfigError, ModelConfig
from tfreid.layers.modality_encoding import (
    ModalityInputEncoding,
    encoding_channels,
    indicator_values,
)
from tfreid.models.backbones import build_backbone, is_gated
from tfreid.models.heads import BNNeckHead, FCHead, PCBHead
from tfreid.models.hpiln_nets import build_network
from tfreid.models.pretrained import load_imagenet_resnet50, load_pretrained
from tfreid.models.reid_model import ReIDModel


def build_model(cfg: Config, num_classes: int, feature_map_stage: int | None = None) -> ReIDModel:
    """The model `cfg.model` describes, with its variables created (a checkpoint restore needs
    them) and its pretrained weights loaded when `model.pretrained_weights` names a file."""
    model = reid_model(
        cfg.model, num_classes, cfg.data.mean, cfg.data.std, feature_map_stage, cfg.train.seed
    )
    image = ops.zeros((1, cfg.data.height, cfg.data.width, 3))
    model({"rgb": image, "ir": image})
    if cfg.model.pretrained_weights:
        if cfg.model.network == "mlfn":  # no keras.applications weights: a Keras file of ours
            model.stages()[0].load_weights(cfg.model.pretrained_weights)
        elif cfg.model.backbone == "resnet6" and cfg.model.network is None:
            load_pretrained(model.stages(), cfg.model.pretrained_weights)
        else:
            load_imagenet_resnet50(model.stages(), cfg)
    return model


def reid_model(
    cfg: ModelConfig,
    num_classes: int,
    mean,
    std,
    feature_map_stage: int | None = None,
    seed: int | None = None,
) -> ReIDModel:
    """One of the ICCV 2017 structures (or the gated extractor) on `cfg.backbone`, or one of
    HPILN's networks (`cfg.network`, one-stream; `seed` seeds BFE's batch DropBlock)."""
    encoding = ModalityInputEncoding(cfg.encoding, *indicator_values(mean, std), name="encoding")
    channels = encoding_channels(cfg.encoding)
    if cfg.network is not None:
        stages, head = build_network(cfg, channels, num_classes, seed)
        stems, shared = _one_stream(stages)
    else:
        stages = build_backbone(cfg.backbone, channels, cfg.last_stride)
        head = _head(cfg, num_classes)
        if cfg.structure == "two_stream":
            stems, shared = _two_stream(cfg, channels, stages)
        else:
            stems, shared = _one_stream(stages)
    return ReIDModel(
        stems,
        shared,
        head,
        encoding,
        gated=cfg.network is None and is_gated(cfg.backbone),
        feature_map_stage=feature_map_stage,
        name="reid_model",
    )


def _one_stream(stages):
    """No modality-specific stage: both modalities share one (empty) stem."""
    stem = []
    return {"rgb": stem, "ir": stem}, stages


def _two_stream(cfg: ModelConfig, channels: int, stages):
    """The first `specific_stages` stages built once per modality (prefixes rgb_, ir_)."""
    if is_gated(cfg.backbone):
        raise ConfigError("model.structure: two_stream needs a plain backbone, not gated_resnet50")
    specific = cfg.specific_stages
    if not 1 <= specific < len(stages):
        raise ConfigError(
            f"model.specific_stages: expected 1..{len(stages) - 1} for {cfg.backbone}, got "
            f"{specific}"
        )
    stems = {
        modality: build_backbone(cfg.backbone, channels, cfg.last_stride, f"{modality}_")[:specific]
        for modality in ("rgb", "ir")
    }
    return stems, stages[specific:]


def _head(cfg: ModelConfig, num_classes: int):
    specific = cfg.structure == "asymmetric_fc"
    if cfg.head == "pcb":
        return PCBHead(
            cfg.feature_dim, num_classes, cfg.stripes, cfg.dropout, specific, name="head"
        )
    if cfg.head == "bnneck":
        if specific:
            raise ConfigError("model.head: bnneck has no feature layer for asymmetric_fc")
        return BNNeckHead(num_classes, cfg.bnneck_embedding, name="head")
    return FCHead(cfg.feature_dim, num_classes, cfg.dropout, specific, name="head")
