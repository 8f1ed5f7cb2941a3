"""PyTorch checkpoints -> legacy Keras HDF5 weights files that `model.pretrained_weights` loads.

Two networks, key for key (docs/pretrained_weights.md):
- torchvision's ResNet-50 -> `build_backbone("resnet50_torchvision", 3)`: conv1 / bn1 ->
  conv1_conv / conv1_bn; layer{s}.{b}.conv{k} / bn{k} -> conv{s+1}_block{b+1}_{k}_conv / _bn;
  layer{s}.0.downsample.0 / .1 -> conv{s+1}_block1_0_conv / _bn. The classifier (fc) is left out.
- torchreid's MLFN -> `mlfn_stages(3)` and the head's fc_x / fc_s: conv1 / bn1 -> stem_conv /
  stem_bn; feature.{i}.fm_conv{j} / fm_bn{j} -> block{i+1}_fm{j}_conv / _bn;
  feature.{i}.fsm.{1,4,7} / {2,5,8} (the FSM's convs and BNs) -> block{i+1}_fsm{0,1,2}_conv /
  _bn; feature.{i}.downsample.0 / .1 -> block{i+1}_downsample_conv / _bn; fc_x.0 / .1 ->
  fc_x / fc_x_bn, fc_s likewise. The classifier is left out.

Conv kernels go from torch's [out, in / groups, kh, kw] to Keras's [kh, kw, in / groups, out],
1x1 convs on pooled vectors (MLFN's FSM, fc_x, fc_s) to dense kernels [in, out]; batch norms
keep (weight, bias, running_mean, running_var) as (gamma, beta, moving_mean, moving_variance).
Every key of the checkpoint must be used or known to be left out (classifiers, BN batch
counters), and every expected key present: the error names the others. The file is checked by
loading it into the network (`tfreid.models.pretrained`) before it is written, atomically.
torch is imported here only: it is the `convert` extra, never needed to train.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import h5py
import keras
import numpy as np

from tfreid.errors import TorchMissing
from tfreid.files import atomic_write
from tfreid.models.networks import build_backbone
from tfreid.models.networks.mlfn import STAGES as MLFN_STAGES
from tfreid.models.networks.mlfn import MLFNHead, mlfn_stages
from tfreid.models.networks.resnet50 import RESNET50_LAST_STAGE, RESNET50_STAGES
from tfreid.models.pretrained import (
    MLFN_HEAD_LAYERS,
    layers_by_key,
    load_layers,
    load_pretrained,
)

TORCH_INSTALL = "pip install torch==2.13.0 (the 'convert' extra)"
# (torch key, how its tensor becomes the Keras weight), in the Keras layer's weight order.
Spec = dict[str, list[tuple[str, Callable[[np.ndarray], np.ndarray]]]]


def _conv(weight: np.ndarray) -> np.ndarray:
    return weight.transpose(2, 3, 1, 0)


def _dense(weight: np.ndarray) -> np.ndarray:
    return weight[:, :, 0, 0].T


def _same(value: np.ndarray) -> np.ndarray:
    return value


def _bn(key: str) -> list[tuple[str, Callable]]:
    names = ("weight", "bias", "running_mean", "running_var")
    return [(f"{key}.{name}", _same) for name in names]


def torchvision_resnet50_spec() -> Spec:
    """Our layer -> its torchvision ResNet-50 keys."""
    spec = {"conv1_conv": [("conv1.weight", _conv)], "conv1_bn": _bn("bn1")}
    stages = RESNET50_STAGES + (RESNET50_LAST_STAGE + (2,),)
    for index, (stage, _, blocks, _) in enumerate(stages):
        for block in range(blocks):
            theirs, ours = f"layer{index + 1}.{block}", f"{stage}_block{block + 1}"
            for unit in (1, 2, 3):
                spec[f"{ours}_{unit}_conv"] = [(f"{theirs}.conv{unit}.weight", _conv)]
                spec[f"{ours}_{unit}_bn"] = _bn(f"{theirs}.bn{unit}")
            if block == 0:
                spec[f"{ours}_0_conv"] = [(f"{theirs}.downsample.0.weight", _conv)]
                spec[f"{ours}_0_bn"] = _bn(f"{theirs}.downsample.1")
    return spec


def torchreid_mlfn_spec() -> Spec:
    """Our layer -> its torchreid MLFN keys."""
    spec = {
        "stem_conv": [("conv1.weight", _conv), ("conv1.bias", _same)],
        "stem_bn": _bn("bn1"),
    }
    index = 0
    for _, blocks, _, _ in MLFN_STAGES:
        for block in range(blocks):
            theirs, ours = f"feature.{index}", f"block{index + 1}"
            for unit in (1, 2, 3):
                spec[f"{ours}_fm{unit}_conv"] = [(f"{theirs}.fm_conv{unit}.weight", _conv)]
                spec[f"{ours}_fm{unit}_bn"] = _bn(f"{theirs}.fm_bn{unit}")
            for unit in range(3):  # fsm = pool, (conv, bn, relu) x 2, conv, bn, sigmoid
                conv = f"{theirs}.fsm.{1 + 3 * unit}"
                dense = [(f"{conv}.weight", _dense), (f"{conv}.bias", _same)]
                spec[f"{ours}_fsm{unit}_conv"] = dense
                spec[f"{ours}_fsm{unit}_bn"] = _bn(f"{theirs}.fsm.{2 + 3 * unit}")
            if block == 0:  # the first block of a stage changes the width or the stride
                spec[f"{ours}_downsample_conv"] = [(f"{theirs}.downsample.0.weight", _conv)]
                spec[f"{ours}_downsample_bn"] = _bn(f"{theirs}.downsample.1")
            index += 1
    for branch in ("fc_x", "fc_s"):
        spec[branch] = [(f"{branch}.0.weight", _dense)]
        spec[f"{branch}_bn"] = _bn(f"{branch}.1")
    return spec


def convert_torchvision_resnet50(source: str, target: str) -> int:
    """Converts a torchvision ResNet-50 checkpoint; returns the number of layers written."""
    return _convert(
        source, target, torchvision_resnet50_spec(), ("fc.",), _check_torchvision_resnet50
    )


def convert_torchreid_mlfn(source: str, target: str) -> int:
    """Converts a torchreid MLFN checkpoint; returns the number of layers written."""
    return _convert(source, target, torchreid_mlfn_spec(), ("classifier.",), _check_mlfn)


def _check_torchvision_resnet50(weights_file) -> None:
    load_pretrained(build_backbone("resnet50_torchvision", 3), weights_file)


def _check_mlfn(weights_file) -> None:
    head = MLFNHead(1)
    head([[keras.ops.zeros((1, 1, 1, 2048)), keras.ops.zeros((1, 512))], keras.ops.zeros(1)])
    head_layers = {name: getattr(head, name) for name in MLFN_HEAD_LAYERS}
    load_layers({**layers_by_key(mlfn_stages(3)), **head_layers}, weights_file)


def _convert(source: str, target: str, spec: Spec, left_out: tuple[str, ...], check) -> int:
    state = read_state_dict(source)
    _check_keys(state, spec, left_out, source)
    layers = {
        layer: {key: convert(state[key]).astype(np.float32) for key, convert in weights}
        for layer, weights in spec.items()
    }
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as weights_file:
        _write_layers(weights_file, layers)
    buffer.seek(0)
    check(buffer)
    atomic_write(target, lambda f: f.write(buffer.getvalue()), binary=True)
    return len(layers)


def read_state_dict(path: str) -> dict[str, np.ndarray]:
    """The tensors of a PyTorch checkpoint by key: a state dict, or a dict holding one under
    "state_dict" (torchreid's checkpoints); a "module." prefix (DataParallel) is removed.

    Raises:
        TorchMissing: torch is not installed.
        ValueError: torch cannot read the file as a state dict.
    """
    try:
        import torch
    except ImportError:
        raise TorchMissing(f"reading a PyTorch checkpoint needs torch: {TORCH_INSTALL}") from None
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise
    except Exception as err:  # torch raises pickle, zip and runtime errors for a bad file
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise ValueError(f"{path}: torch cannot read it as a checkpoint: {first}") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise ValueError(f"{path}: not a state dict (a dict of tensors by parameter name)")
    return {key.removeprefix("module."): value.numpy() for key, value in state.items()}


def _check_keys(state: dict, spec: Spec, left_out: tuple[str, ...], path: str) -> None:
    expected = {key for weights in spec.values() for key, _ in weights}
    missing = sorted(expected - set(state))
    unknown = sorted(
        key
        for key in set(state) - expected
        if not key.startswith(left_out) and not key.endswith(".num_batches_tracked")
    )
    if missing or unknown:
        raise ValueError(
            f"{path}: not the expected network: {_listed('missing', missing)}"
            f"{'; ' if missing and unknown else ''}{_listed('unknown', unknown)}"
        )


def _listed(what: str, keys: list[str], shown: int = 5) -> str:
    if not keys:
        return ""
    more = f" and {len(keys) - shown} more" if len(keys) > shown else ""
    return f"{len(keys)} {what} keys ({', '.join(keys[:shown])}{more})"


def _write_layers(weights_file: h5py.File, layers: dict[str, dict[str, np.ndarray]]) -> None:
    """keras.applications' HDF5 layout: root `layer_names`, a group per layer with
    `weight_names` in the layer's weight order; each weight is named by its torch key."""
    weights_file.attrs["layer_names"] = [name.encode("utf8") for name in layers]
    for name, values in layers.items():
        group = weights_file.create_group(name)
        group.attrs["weight_names"] = [key.encode("utf8") for key in values]
        for key, value in values.items():
            group.create_dataset(key, data=value)
