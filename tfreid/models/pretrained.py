"""Loads pretrained weights from a local legacy Keras HDF5 file into backbone parts, by name.

The layout is the one of keras.applications' ImageNet files (e.g.
`resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5`): the root attribute `layer_names`, and
per layer a group with the attribute `weight_names` listing its datasets in the layer's weight
order (kernel, bias; gamma, beta, moving_mean, moving_variance). Layers are matched by name with
the part's prefix stripped, so both streams of a two-stream network get the same weights.
Keras 3 `.weights.h5` files have another layout; load those with `keras.Model.load_weights`.

keras.applications' ResNet-50 was trained on caffe-style input (BGR, 0-255, minus a mean per
channel) while tfreid feeds RGB in [0, 1] normalised by data.mean / data.std:
`caffe_stem_to_normalised_rgb` rewrites the stem conv for our input.
"""

import os
import re

import h5py
import keras
import numpy as np

from tfreid.models.backbones import build_backbone, part_prefix

# keras.applications.imagenet_utils, mode "caffe": the per-channel means (B, G, R) subtracted
# from 0-255 BGR images when the ImageNet ResNet-50 weights were trained.
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


def load_pretrained(parts: list[keras.Model], path: str) -> None:
    """Sets the weights of every layer that has weights in `parts` from the file at `path`.

    Nothing is assigned unless every layer is found with matching shapes; file layers that
    the parts do not use (e.g. a classifier) are ignored.

    Args:
        parts: parts from `tfreid.models.backbones.build_backbone` (any prefix).
        path: local legacy Keras HDF5 weights file. Never downloaded.

    Raises:
        FileNotFoundError: `path` does not exist.
        ValueError: the file is not in the legacy layout, or a layer is missing from it, or
            its weights differ in number or shape (the message names the layer and shapes).
    """
    if not os.path.isfile(path):
        raise FileNotFoundError(f"Pretrained weights file not found: {path}")
    assignments = []
    try:
        weights_file = h5py.File(path, "r")
    except OSError as err:
        raise ValueError(
            f"pretrained weights file {path} is not a readable HDF5 file: {err}"
        ) from None
    with weights_file:
        file_layers = set(_layer_names(weights_file, path))
        for part in parts:
            prefix = part_prefix(part)
            for layer in part.layers:
                if layer.weights:
                    key = layer.name[len(prefix) :]
                    if key not in file_layers:
                        raise ValueError(
                            f"{path}: layer {key!r} (ours: {layer.name!r}, weight shapes "
                            f"{_shapes(layer.weights)}) is not in the file."
                        )
                    values = _read_layer(weights_file[key], layer, key, path)
                    assignments.append((layer, values))
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


def caffe_stem_to_normalised_rgb(kernel, bias, mean, std) -> tuple[np.ndarray, np.ndarray]:
    """The ImageNet stem conv's (kernel [kh, kw, 3, F], bias [F]) for tfreid's input.

    The file's stem sees u = 255 x[BGR] - CAFFE_MEAN_BGR; ours sees z_c = (x_c - mean_c) /
    std_c (x RGB in [0, 1]). Putting x_c = std_c z_c + mean_c into the caffe input gives the
    same response with K'[..., c, :] = 255 std_c K[..., 2 - c, :] and b' = b + sum over the
    kernel of K[..., 2 - c, :] (255 mean_c - caffe mean_c). Exact except where the zero
    padding reaches in: there the padded value differs by 255 mean_c - caffe mean_c, which is
    at most 0.5 on the 0-255 scale for the ImageNet mean defaults.
    """
    rgb_kernel = np.asarray(kernel, np.float64)[:, :, ::-1, :]
    caffe_mean_rgb = np.array(CAFFE_MEAN_BGR[::-1])
    scale = 255.0 * np.asarray(std, np.float64)
    offset = 255.0 * np.asarray(mean, np.float64) - caffe_mean_rgb
    new_kernel = rgb_kernel * scale[None, None, :, None]
    new_bias = np.asarray(bias, np.float64) + np.einsum("hwcf,c->f", rgb_kernel, offset)
    return new_kernel.astype(np.float32), new_bias.astype(np.float32)


# A keras.applications ResNet-50 layer name at the end of a layer's name, after any prefix:
# "conv1_conv", "rgb_conv2_block1_1_bn", MGN's branch copy "part2_conv4_block2_3_conv".
_RESNET50_LAYER = re.compile(r"(conv1|conv[2-5]_block\d+_[0-3])_(conv|bn)$")


def load_imagenet_resnet50(stages: list[keras.Model], cfg) -> None:
    """Loads keras.applications ResNet-50 weights into the ResNet-50 layers of `stages`.

    The file (`cfg.model.pretrained_weights`) is read into a plain 3-channel ResNet-50 first,
    then copied into every layer whose name ends in a ResNet-50 layer name (after any prefix:
    a two-stream network's "rgb_" / "ir_" copies, MGN's three branches). Other layers keep
    their initialisation: modality gates their shared a1 = a2 = 0.5, new layers (a head's, BDB's
    extra bottleneck) their random start. The stem conv is rewritten for our input: from the
    file's caffe-style BGR input to RGB normalised by data.mean / data.std, then adapted to the
    encoding (`stem_kernel`).
    """
    reference = build_backbone("resnet50", 3, cfg.model.last_stride)
    load_pretrained(reference, cfg.model.pretrained_weights)
    source = {layer.name: layer for part in reference for layer in part.layers if layer.weights}
    for stage in stages:
        for layer in stage.layers:
            match = _RESNET50_LAYER.search(layer.name)
            if not layer.weights or match is None:
                continue
            name = match.group(0)
            values = source[name].get_weights()
            if name == "conv1_conv":
                kernel, bias = caffe_stem_to_normalised_rgb(*values, cfg.data.mean, cfg.data.std)
                values = [stem_kernel(kernel, cfg.model.encoding), bias]
            layer.set_weights(values)


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
