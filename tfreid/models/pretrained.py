"""Loads pretrained weights from a legacy Keras HDF5 file into backbone stages, by name.

The layout is the one of keras.applications' ImageNet files (e.g.
`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`) and of the files
`tools/convert_weights.py` writes from PyTorch checkpoints: the root attribute `layer_names`,
and per layer a group with the attribute `weight_names` listing its datasets in the layer's
weight order (kernel, bias; gamma, beta, moving_mean, moving_variance). Layers are matched by
name with the stage's prefix stripped, so both streams of a two-stream network get the same
weights. Keras 3 `.weights.h5` files have another layout; load those with
`keras.Model.load_weights`.

ImageNet weights expect another input than tfreid's RGB in [0, 1] normalised by data.mean /
data.std: keras.applications' ResNet-50 was trained on caffe-style input (BGR, 0-255, minus a
mean per channel), torchvision's ResNet-50 and torchreid's MLFN on RGB normalised by the
ImageNet mean / std. `stem_for_input` rewrites the stem conv for our input
(docs/pretrained_weights.md).
"""

import os
import re

import h5py
import keras
import numpy as np

from tfreid.config import IMAGENET_MEAN, IMAGENET_STD
from tfreid.models.networks import build_backbone, resnet50_layout, stage_prefix
from tfreid.models.networks.resnet50 import TORCHVISION_LAYOUT

# keras.applications.imagenet_utils, mode "caffe": the per-channel means (B, G, R) subtracted
# from 0-255 BGR images when the ImageNet ResNet-50 weights were trained.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
# The layers of MLFN's head that torchreid's checkpoint initialises with the trunk.
MLFN_HEAD_LAYERS = ("fc_x", "fc_x_bn", "fc_s", "fc_s_bn")


def load_pretrained(stages: list[keras.Model], path) -> None:
    """Sets the weights of every layer that has weights in `stages` from the file at `path`.

    Nothing is assigned unless every layer is found with matching shapes; file layers that
    the stages do not use (e.g. a classifier) are ignored.

    Args:
        stages: stages from `tfreid.models.networks.build_backbone` (any prefix), or MLFN's
            trunk.
        path: local legacy Keras HDF5 weights file (or an open binary file of one). Never
            downloaded.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not in the legacy layout, or a layer is missing from it, or
            its weights differ in number or shape (the message names the layer and shapes).
    """
    load_layers(layers_by_key(stages), path)


def layers_by_key(stages: list[keras.Model]) -> dict[str, keras.layers.Layer]:
    """Every layer with weights of `stages`, under its name without the stage's prefix."""
    layers = {}
    for stage in stages:
        prefix = stage_prefix(stage)
        for layer in stage.layers:
            if layer.weights:
                layers[layer.name[len(prefix) :]] = layer
    return layers


def load_layers(layers: dict[str, keras.layers.Layer], path) -> None:
    """Sets every layer of `layers` from the file's layer of its key; all or nothing (see
    `load_pretrained`)."""
    if isinstance(path, str) and not os.path.isfile(path):
        raise FileNotFoundError(f"Pretrained weights file not found: {path}")
    name = path if isinstance(path, str) else "the weights file"
    try:
        weights_file = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(
            f"pretrained weights file {name} is not a readable HDF5 file: {err}"
        ) from None
    assignments = []
    with weights_file:
        file_layers = set(_layer_names(weights_file, name))
        for key, layer in layers.items():
            if key not in file_layers:
                raise ValueError(
                    f"{name}: layer {key!r} (ours: {layer.name!r}, weight shapes "
                    f"{_shapes(layer.weights)}) is not in the file."
                )
            assignments.append((layer, _read_layer(weights_file[key], layer, key, name)))
    for layer, values in assignments:
        layer.set_weights(values)


def _decode(names) -> list[str]:
    return [name.decode("utf8") if isinstance(name, bytes) else str(name) for name in names]


def _layer_names(weights_file: h5py.File, path: str) -> list[str]:
    if "layer_names" not in weights_file.attrs:
        raise ValueError(
            f"{path} is not a legacy Keras HDF5 weights file: the root attribute 'layer_names' "
            "is missing (a Keras 3 '.weights.h5' file loads with keras.Model.load_weights)."
        )
    return _decode(weights_file.attrs["layer_names"])


def _shapes(weights) -> list[tuple[int, ...]]:
    return [tuple(weight.shape) for weight in weights]


def _read_layer(group: h5py.Group, layer: keras.layers.Layer, key: str, path: str):
    """Reads the file's weights of `key` in `layer.weights` order, checking count and shapes."""
    weight_names = _decode(group.attrs.get("weight_names", []))
    values = [np.asarray(group[weight_name]) for weight_name in weight_names]
    expected = _shapes(layer.weights)
    found = [value.shape for value in values]
    if len(values) != len(expected):
        raise ValueError(
            f"{path}: layer {layer.name!r} expects {len(expected)} weights with shapes "
            f"{expected}, the file's {key!r} has {len(values)}: {weight_names} {found}."
        )
    for weight, value, weight_name in zip(layer.weights, values, weight_names, strict=True):
        if tuple(weight.shape) != value.shape:
            raise ValueError(
                f"{path}: shape mismatch for layer {layer.name!r} ({weight.name}): expected "
                f"{tuple(weight.shape)}, found {value.shape} in the file's {weight_name!r}."
            )
    return values


def stem_for_input(kernel, mean, std, source_mean, source_std) -> tuple[np.ndarray, np.ndarray]:
    """A stem conv trained on input (x - source_mean) / source_std, rewritten for ours,
    (x - mean) / std (x RGB in [0, 1], per channel).

    Putting x_c = std_c z_c + mean_c into the source input gives the same response with
    K'[..., c, :] = K[..., c, :] std_c / source_std_c plus a constant per output channel,
    shift = sum over the kernel of K[..., c, :] (mean_c - source_mean_c) / source_std_c, to add
    to the conv's bias (or, before a batch norm, to subtract from its moving mean). Exact
    except where the zero padding reaches in: there our padded 0 is x = mean, the source's
    x = source_mean.

    Args:
        kernel: float [kh, kw, 3, F], RGB input channels.
        mean, std, source_mean, source_std: 3 values each.

    Returns:
        (float32 kernel [kh, kw, 3, F], float32 shift [F]).
    """
    kernel = np.asarray(kernel, np.float64)
    source_std = np.asarray(source_std, np.float64)
    scale = np.asarray(std, np.float64) / source_std
    offset = (np.asarray(mean, np.float64) - np.asarray(source_mean, np.float64)) / source_std
    shift = np.einsum("hwcf,c->f", kernel, offset)
    return (kernel * scale[None, None, :, None]).astype(np.float32), shift.astype(np.float32)


def caffe_stem_to_normalised_rgb(kernel, bias, mean, std) -> tuple[np.ndarray, np.ndarray]:
    """keras.applications' ImageNet stem conv (kernel [kh, kw, 3, F], bias [F]) for our input.

    The file's stem sees u = 255 x[BGR] - CAFFE_MEAN_BGR: RGB with the channels reversed,
    source mean CAFFE_MEAN / 255 and source std 1 / 255 (`stem_for_input`). The padding
    differs by at most 0.5 on the 0-255 scale for the ImageNet mean defaults.
    """
    caffe_mean_rgb = np.array(CAFFE_MEAN_BGR[::-1]) / 255.0
    rgb_kernel = np.asarray(kernel)[:, :, ::-1, :]
    new_kernel, shift = stem_for_input(rgb_kernel, mean, std, caffe_mean_rgb, [1 / 255.0] * 3)
    return new_kernel, (np.asarray(bias, np.float64) + shift).astype(np.float32)


def _rewrite_resnet50_stem(stem: keras.Model, layout, data) -> None:
    """The ImageNet stem of a 3-channel ResNet-50 stage `stem`, rewritten for data.mean / std.

    keras.applications' conv has a bias that takes the shift; torchvision's has none, and its
    batch norm follows: the shift moves the moving mean (training-mode batch statistics
    subtract any constant anyway).
    """
    conv = stem.get_layer("conv1_conv")
    if layout is not TORCHVISION_LAYOUT:
        conv.set_weights(caffe_stem_to_normalised_rgb(*conv.get_weights(), data.mean, data.std))
        return
    kernel, shift = stem_for_input(
        conv.get_weights()[0], data.mean, data.std, IMAGENET_MEAN, IMAGENET_STD
    )
    conv.set_weights([kernel])
    bn = stem.get_layer("conv1_bn")
    gamma, beta, moving_mean, moving_variance = bn.get_weights()
    bn.set_weights([gamma, beta, moving_mean - shift, moving_variance])


# A ResNet-50 layer name at the end of a layer's name, after any prefix: "conv1_conv",
# "rgb_conv2_block1_1_bn", MGN's branch copy "part2_conv4_block2_3_conv".
_RESNET50_LAYER = re.compile(r"(conv1|conv[2-5]_block\d+_[0-3])_(conv|bn)$")


def load_imagenet_resnet50(stages: list[keras.Model], cfg, path: str) -> None:
    """Loads ResNet-50 weights of `cfg.model.backbone`'s layout into the ResNet-50 layers of
    `stages`.

    The file at `path` is read into a plain 3-channel ResNet-50 of that layout first, then
    copied into every layer whose name ends in a ResNet-50 layer name (after any prefix: a
    two-stream network's "rgb_" / "ir_" copies, MGN's three branches). Other layers keep
    their initialisation: modality gates their shared a1 = a2 = 0.5, new layers (a head's,
    BDB's extra bottleneck) their random start. The stem conv is rewritten for our input
    (`_rewrite_resnet50_stem`), then adapted to the encoding (`stem_kernel`).
    """
    layout = resnet50_layout(cfg.model.backbone)
    reference = build_backbone(layout.backbone, 3, cfg.model.last_stride)
    try:
        load_pretrained(reference, path)
    except ValueError as err:
        raise ValueError(
            f"{err} model.backbone {cfg.model.backbone} reads {layout.backbone} files: "
            "keras.applications' for resnet50, converted torchvision ones for "
            "resnet50_torchvision (docs/pretrained_weights.md)"
        ) from None
    _rewrite_resnet50_stem(reference[0], layout, cfg.data)
    source = {layer.name: layer for stage in reference for layer in stage.layers if layer.weights}
    for stage in stages:
        for layer in stage.layers:
            match = _RESNET50_LAYER.search(layer.name)
            if not layer.weights or match is None:
                continue
            values = source[match.group(0)].get_weights()
            if match.group(0) == "conv1_conv":
                values[0] = stem_kernel(values[0], cfg.model.encoding)
            layer.set_weights(values)


def load_mlfn(trunk: list[keras.Model], head, cfg, path: str) -> None:
    """Loads an MLFN file (torchreid's ImageNet checkpoint, converted) into MLFN's trunk and
    the head layers torchreid initialises with it (`MLFN_HEAD_LAYERS`), the stem conv
    rewritten from ImageNet-normalised RGB to our input and encoding."""
    layers = {**layers_by_key(trunk), **{name: getattr(head, name) for name in MLFN_HEAD_LAYERS}}
    stem = layers["stem_conv"]
    rgb_stem = keras.layers.Conv2D(stem.filters, stem.kernel_size, name="stem_conv")
    rgb_stem.build((None, None, None, 3))  # the file's, whatever our encoding's channels
    load_layers({**layers, "stem_conv": rgb_stem}, path)
    kernel, bias = rgb_stem.get_weights()
    kernel, shift = stem_for_input(kernel, cfg.data.mean, cfg.data.std, IMAGENET_MEAN, IMAGENET_STD)
    stem.set_weights([stem_kernel(kernel, cfg.model.encoding), bias + shift])


def stem_kernel(kernel: np.ndarray, encoding: str) -> np.ndarray:
    """An RGB stem kernel [kh, kw, 3, F] adapted to an input encoding's channels: a gray
    channel gets the sum of the RGB kernels (the response to a gray image replicated to 3
    channels), domain-indicator channels get zeros."""
    gray = kernel.sum(axis=2, keepdims=True)
    zeros = np.zeros_like(gray)
    adapted = {
        "rgb3": kernel,
        "gray": gray,
        "zero_padding": np.concatenate([gray, gray], axis=2),
        "domain_indicator": np.concatenate([gray, zeros, zeros], axis=2),
    }
    return adapted[encoding]
