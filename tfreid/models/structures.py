"""The ReID models of the `model` config section, built from stems, shared stages and a head.

Structures (Wu et al., ICCV 2017, Fig. 3): `one_stream` shares everything; `two_stream` builds
the first `specific_stages` backbone stages once per modality; `asymmetric_fc` shares the
backbone and makes the head's feature layer modality-specific. The input encodings (gray,
zero-padding, domain indicator, 3-channel) are a layer in front of all of them. The IJCV 2020
Modality-Gated Extractor is the one-stream structure on `gated_resnet50` with the PCB head.
A model may take more modalities than RGB and IR (`modalities`): the base-derivative
framework's network is the two-stream structure over its four (V, I, D_V, D_I) with one
specific stage (the ResNet-50 stem), a BN-neck head and last stride 1. The networks of
`model.network` (`tfreid.models.networks`) are one-stream with their own stages and heads.
"""

from __future__ import annotations

from keras import ops

from tfreid.config import Config, ConfigError, ModelConfig
from tfreid.layers.modality_encoding import (
    ModalityInputEncoding,
    encoding_channels,
    indicator_values,
)
from tfreid.models.heads import BNNeckHead, FCHead, PCBHead
from tfreid.models.imagenet import weights_file
from tfreid.models.networks import build_backbone, build_network, is_gated, is_resnet50
from tfreid.models.pretrained import load_imagenet_resnet50, load_mlfn, load_pretrained
from tfreid.models.reid_model import SERVED_MODALITIES, ReIDModel


def build_model(
    cfg: Config,
    num_classes: int,
    feature_map_stage: int | None = None,
    modalities: tuple[str, ...] = SERVED_MODALITIES,
) -> ReIDModel:
    """The model `cfg.model` describes over `modalities` ("rgb", "ir" first), with its
    variables created (a checkpoint restore needs them) and the weights
    `model.pretrained_weights` names loaded, into every stem (`imagenet` is fetched the first
    time)."""
    model = reid_model(
        cfg.model,
        num_classes,
        cfg.data.mean,
        cfg.data.std,
        feature_map_stage,
        modalities,
        cfg.train.seed,
    )
    image = ops.zeros((1, cfg.data.height, cfg.data.width, 3))
    model({modality: image for modality in modalities})
    load_start(model, cfg)
    return model


def load_start(model: ReIDModel, cfg: Config) -> None:
    """Loads the weights `cfg.model.pretrained_weights` names (fetching `imagenet` the first
    time) into `model`, a `ReIDModel` of `cfg.model`; nothing when it is null."""
    path = weights_file(cfg.model)
    if path is None:
        return
    if cfg.model.network == "mlfn":
        load_mlfn(model.stages(), model.head, cfg, path)
    elif cfg.model.network is None and not is_resnet50(cfg.model.backbone):
        load_pretrained(model.stages(), path)
    else:
        load_imagenet_resnet50(model.stages(), cfg, path)


def reid_model(
    cfg: ModelConfig,
    num_classes: int,
    mean,
    std,
    feature_map_stage: int | None = None,
    modalities: tuple[str, ...] = SERVED_MODALITIES,
    seed: int | None = None,
) -> ReIDModel:
    """One of the ICCV 2017 structures (or the gated extractor) on `cfg.backbone`, with a
    stem per modality of `modalities` for `two_stream`; or the network `cfg.network` names
    (one-stream; `seed` seeds BFE's batch DropBlock)."""
    check_modalities(cfg, modalities)
    encoding = ModalityInputEncoding(cfg.encoding, *indicator_values(mean, std), name="encoding")
    channels = encoding_channels(cfg.encoding)
    if cfg.network is not None:
        stages, head = build_network(cfg, channels, num_classes, seed)
        stems, shared = _one_stream(stages, modalities)
    else:
        stages = build_backbone(cfg.backbone, channels, cfg.last_stride)
        head = _head(cfg, num_classes)
        if cfg.structure == "two_stream":
            stems, shared = _two_stream(cfg, channels, stages, modalities)
        else:
            stems, shared = _one_stream(stages, modalities)
    return ReIDModel(
        stems,
        shared,
        head,
        encoding,
        gated=cfg.network is None and is_gated(cfg.backbone),
        feature_map_stage=feature_map_stage,
        name="reid_model",
    )


def check_modalities(cfg: ModelConfig, modalities: tuple[str, ...], source: str = "") -> None:
    """Modalities beyond RGB and IR (e.g. the base-derivative framework's derivatives) need
    layers that do not look at the modality index: the input encodings, the gates and the
    asymmetric FC know only 0 and 1 (ConfigError naming the key otherwise; `source`, e.g.
    the method key that asks for them, is named beside the modalities)."""
    extra = ", ".join(m for m in modalities if m not in SERVED_MODALITIES)
    if not extra:
        return
    more = f"modalities beyond rgb and ir ({extra}{f'; {source}' if source else ''})"
    if cfg.encoding != "rgb3":
        raise ConfigError(
            f"model.encoding: {more} need 'rgb3' (3-channel images into "
            f"every stem), got {cfg.encoding!r}"
        )
    if is_gated(cfg.backbone) or cfg.structure == "asymmetric_fc":
        what = "model.backbone" if is_gated(cfg.backbone) else "model.structure"
        raise ConfigError(
            f"{what}: {more} need one_stream or two_stream on a plain "
            f"backbone (gates and asymmetric FC route by RGB/IR), got {cfg.structure} on "
            f"{cfg.backbone}"
        )


def _one_stream(stages, modalities):
    """No modality-specific stage: every modality shares one (empty) stem."""
    stem = []
    return {modality: stem for modality in modalities}, stages


def _two_stream(cfg: ModelConfig, channels: int, stages, modalities):
    """The first `specific_stages` stages built once per modality (prefix f"{modality}_");
    `ModelConfig` checked the backbone is plain and has more stages than that."""
    specific = cfg.specific_stages
    stems = {
        modality: build_backbone(cfg.backbone, channels, cfg.last_stride, f"{modality}_")[:specific]
        for modality in modalities
    }
    return stems, stages[specific:]


def _head(cfg: ModelConfig, num_classes: int):
    specific = cfg.structure == "asymmetric_fc"
    if cfg.head == "pcb":
        return PCBHead(
            cfg.feature_dim, num_classes, cfg.stripes, cfg.dropout, specific, name="head"
        )
    if cfg.head == "bnneck":  # never asymmetric_fc (ModelConfig)
        return BNNeckHead(num_classes, cfg.bnneck_embedding, name="head")
    return FCHead(cfg.feature_dim, num_classes, cfg.dropout, specific, name="head")
