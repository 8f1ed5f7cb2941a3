"""Typed run configuration filled from YAML.

A YAML file lists only what differs from the defaults below. Loading is strict: an unknown key
is an error naming its full path and the closest valid key, a value of the wrong type is an
error naming key, value and expected type. `--set key.path=value` overrides are parsed as YAML
scalars or lists. A method's own knobs (`method.params`) are checked by that method's `Params`
dataclass, so every method keeps its parameters to itself.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import re
import tempfile
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


class ConfigError(ValueError):
    """A configuration file or override that cannot be used as given."""


IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]


@dataclass
class DataConfig:
    dataset: Literal["sysu", "regdb"] = "sysu"
    root: str = "data/synthetic_sysu"
    # When set and `root` does not exist, tools/train.py writes a synthetic set of this many
    # identities there first; an existing root is never touched.
    synthetic_ids: int | None = None
    regdb_trial: int = 1
    height: int = 288
    width: int = 144
    num_identities: int = 8  # P: identities per (global) batch
    num_instances: int = 4  # K: images per identity per modality
    pad: int = 10
    flip: bool = True
    erasing_prob: float = 0.5
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))

    def __post_init__(self):
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ConfigError(
                f"data.mean and data.std must be 3 values each (std > 0), got mean={self.mean} "
                f"std={self.std}"
            )
        if self.num_identities < 1 or self.num_instances < 1:
            raise ConfigError("data.num_identities and data.num_instances must be >= 1")


@dataclass
class ModelConfig:
    backbone: Literal["resnet6", "resnet50", "gated_resnet50"] = "resnet50"
    structure: Literal["one_stream", "two_stream", "asymmetric_fc"] = "one_stream"
    encoding: Literal["rgb3", "gray", "zero_padding", "domain_indicator"] = "rgb3"
    specific_stages: int = 2  # two-stream: leading stages duplicated per modality
    last_stride: int = 2
    head: Literal["fc", "pcb"] = "fc"
    feature_dim: int = 256
    stripes: int = 6
    dropout: float = 0.0
    pretrained_weights: str | None = None


@dataclass
class MethodConfig:
    name: str = "softmax"
    params: dict = field(default_factory=dict)


@dataclass
class OptimizerConfig:
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    learning_rate: float = 0.01
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 5e-4
    schedule: Literal["constant", "multistep", "cosine"] = "multistep"
    warmup_epochs: float = 0.0
    milestones: list[int] = field(default_factory=list)  # epochs
    gamma: float = 0.1


@dataclass
class TrainConfig:
    epochs: int = 60
    steps_per_epoch: int | None = None  # default: identities // P
    seed: int = 0
    log_every: int = 20
    checkpoint_every: int = 500  # steps; also at every epoch end
    keep_checkpoints: int = 3
    eval_every: int = 0  # epochs; 0 = no periodic validation
    # Periodic evaluation uses the validation ids; the test set only when this says so.
    select_on_test: bool = False
    mixed_precision: bool = False


@dataclass
class EvalConfig:
    protocol: Literal["seeded", "official"] = "seeded"
    permutation_file: str | None = None
    modes: list[str] = field(default_factory=lambda: ["all", "indoor"])
    shots: list[int] = field(default_factory=lambda: [1, 10])
    trials: int = 10
    regdb_trials: list[int] = field(default_factory=lambda: [1])
    distance: Literal["cosine", "euclidean"] = "cosine"
    flip: bool = False
    rerank: bool = False
    batch_size: int = 64
    max_rank: int = 20


@dataclass
class RuntimeConfig:
    strategy: Literal["auto", "one_device", "mirrored"] = "auto"
    workdir: str = "work_dirs/run"


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig | None = field(default_factory=EvalConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)


def _type_name(hint: Any) -> str:
    origin = typing.get_origin(hint)
    if origin is Literal:
        return "one of " + ", ".join(repr(a) for a in typing.get_args(hint))
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(hint))
    if origin is list:
        return f"list of {_type_name(typing.get_args(hint)[0])}"
    if hint is type(None):
        return "null"
    if dataclasses.is_dataclass(hint):
        return "mapping"
    return getattr(hint, "__name__", str(hint))


def _convert(hint: Any, value: Any, path: str) -> Any:
    """Checks `value` against the type hint `hint`; returns it (ints widen to floats)."""
    origin = typing.get_origin(hint)
    if dataclasses.is_dataclass(hint):
        return from_dict(hint, value, path)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if value is None and len(args) < len(typing.get_args(hint)):
            return None
        if len(args) == 1:  # Optional[X]: X's own error is the useful one
            return _convert(args[0], value, path)
        for arg in args:
            try:
                return _convert(arg, value, path)
            except ConfigError:
                pass
    elif origin is Literal:
        if value in typing.get_args(hint):
            return value
    elif origin is list:
        if isinstance(value, list):
            (item,) = typing.get_args(hint)
            return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    elif hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            return float(value)  # PyYAML (YAML 1.1) reads `3e-4` as a string
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint in (str, bool, dict):
        if isinstance(value, hint):
            return value
    else:
        raise TypeError(f"unsupported config type {hint!r} at {path}")
    raise ConfigError(
        f"{path}: got {value!r} ({type(value).__name__}), expected {_type_name(hint)}"
    )


def from_dict(cls: type, values: Any, path: str = "") -> Any:
    """Builds dataclass `cls` from a mapping, strictly (see module docstring)."""
    where = path or "the top level"
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: got {values!r}, expected a mapping")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in values.items():
        full = f"{path}.{key}" if path else str(key)
        if key not in names:
            close = difflib.get_close_matches(str(key), names, n=1)
            hint = f"; did you mean '{path + '.' if path else ''}{close[0]}'?" if close else ""
            raise ConfigError(f"unknown config key '{full}'{hint} (valid: {', '.join(names)})")
        kwargs[key] = _convert(hints[key], value, full)
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def apply_override(values: dict, override: str) -> None:
    """Applies one `key.path=value` override (value parsed as YAML) to a raw config mapping."""
    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise ConfigError(f"override {override!r}: expected key.path=value")
    try:
        value = yaml.safe_load(raw) if raw else None
    except yaml.YAMLError as err:
        raise ConfigError(f"override {override!r}: value is not valid YAML ({err})") from None
    parts = key.split(".")
    node = values
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(
                f"override {override!r}: '{'.'.join(parts[: i + 1])}' is not a section"
            )
        node = child
    node[parts[-1]] = value


def read_yaml(path: str) -> dict:
    if not os.path.isfile(path):
        raise ConfigError(f"config file {path} does not exist")
    with open(path, encoding="utf-8") as f:
        try:
            values = yaml.safe_load(f)
        except yaml.YAMLError as err:
            raise ConfigError(f"config file {path} is not valid YAML: {err}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    return values


def load_config(path: str | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Reads a YAML config (or the defaults when `path` is None) and applies overrides."""
    values = read_yaml(path) if path else {}
    for override in overrides:
        apply_override(values, override)
    try:
        cfg = from_dict(Config, values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path else str(err)) from None
    validate_method(cfg)
    return cfg


def validate_method(cfg: Config) -> None:
    """Checks `method.name` and its `method.params` against the method's `Params` dataclass."""
    from tfreid.methods import METHODS

    if cfg.method.name not in METHODS:
        raise ConfigError(
            f"method.name: unknown method {cfg.method.name!r} (valid: {', '.join(sorted(METHODS))})"
        )
    method_params(cfg)


def method_params(cfg: Config) -> Any:
    """The method's `Params` dataclass filled from `method.params`."""
    from tfreid.methods import METHODS

    return from_dict(METHODS[cfg.method.name].Params, cfg.method.params, "method.params")


def save_config(cfg: Config, path: str) -> None:
    """Writes the resolved config atomically; `load_config` reads it back unchanged."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, suffix=".tmp", delete=False) as f:
        yaml.safe_dump(to_dict(cfg), f, sort_keys=False)
    os.replace(f.name, path)
