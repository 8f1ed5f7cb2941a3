"""Strict dataclasses filled from YAML: the machinery behind `tfreid.config`.

An unknown key is an error naming its full path and the closest valid key; a value of the wrong
type is an error naming key, value and expected type; a value outside a field's bounds (see
`bounded`) is an error naming key, value and range; a key written twice in one YAML mapping is
an error (PyYAML would keep the last one silently). `key.path=value` overrides are parsed as
YAML. Nothing here imports TensorFlow.

A config is a small file, and reading one is bounded so that no file can exhaust the tool: its
size (MAX_CONFIG_BYTES), its nesting (MAX_DEPTH) and its number of values once aliases are
expanded (MAX_VALUES: a "billion laughs" file of a few lines would otherwise expand to
gigabytes); keys must be strings. Errors show values shortened (`tfreid.errors.shown`).
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import os
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

import yaml

from tfreid.errors import ConfigError, clip, shown

MAX_CONFIG_BYTES = 64 * 1024  # the shipped configs are under 3 KB
MAX_DEPTH = 32  # nesting levels; a config uses 3 or 4
MAX_VALUES = 10_000  # scalars, lists and mappings, aliases expanded; a config has about 100

_YAML11_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


@dataclass(frozen=True)
class Bounds:
    """A closed or open interval a numeric field must lie in (None: unbounded)."""

    low: float | None = None
    high: float | None = None
    open_low: bool = False
    open_high: bool = False

    def contains(self, value: float) -> bool:
        if self.low is not None and (value <= self.low if self.open_low else value < self.low):
            return False
        if self.high is not None and (value >= self.high if self.open_high else value > self.high):
            return False
        return True

    def __str__(self) -> str:
        if self.low is not None and self.high is not None:
            left, right = "(" if self.open_low else "[", ")" if self.open_high else "]"
            return f"in {left}{self.low}, {self.high}{right}"
        if self.low is not None:
            return f"{'>' if self.open_low else '>='} {self.low}"
        return f"{'<' if self.open_high else '<='} {self.high}"


def bounded(default: Any, low=None, high=None, open_low=False, open_high=False) -> Any:
    """A dataclass field whose value (when not None) must lie in the given interval."""
    return field(default=default, metadata={"bounds": Bounds(low, high, open_low, open_high)})


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
        if any(value == a and type(value) is type(a) for a in typing.get_args(hint)):
            return value
    elif origin is list:
        if isinstance(value, list):
            (item,) = typing.get_args(hint)
            return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    elif hint is float:
        if isinstance(value, str) and _YAML11_FLOAT.fullmatch(value.strip()):
            value = float(value)  # PyYAML (YAML 1.1) reads `3e-4` as a string
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if math.isfinite(value):
                return float(value)
            raise ConfigError(f"{path}: got {shown(value)}, expected a finite number")
    elif hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif hint in (str, bool, dict):
        if isinstance(value, hint):
            return value
    else:
        raise TypeError(f"unsupported config type {hint!r} at {path}")
    raise ConfigError(
        f"{path}: got {shown(value)} ({type(value).__name__}), expected {_type_name(hint)}"
    )


def from_dict(cls: type, values: Any, path: str = "") -> Any:
    """Builds dataclass `cls` from a mapping, strictly (see the module docstring)."""
    where = path or "the top level"
    if values is None:
        values = {}
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: got {shown(values)}, expected a mapping")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    kwargs = {}
    for key, value in values.items():
        full = clip(f"{path}.{key}" if path else str(key))
        if key not in fields:
            close = difflib.get_close_matches(str(key), list(fields), n=1)
            hint = f"; did you mean '{path + '.' if path else ''}{close[0]}'?" if close else ""
            raise ConfigError(f"unknown config key '{full}'{hint} (valid: {', '.join(fields)})")
        kwargs[key] = _convert(hints[key], value, full)
        bounds = fields[key].metadata.get("bounds")
        if bounds is not None and kwargs[key] is not None and not bounds.contains(kwargs[key]):
            raise ConfigError(f"{full}: got {shown(kwargs[key])}, expected a value {bounds}")
    return cls(**kwargs)


def to_dict(cfg: Any) -> dict:
    return dataclasses.asdict(cfg)


def apply_override(values: dict, override: str) -> None:
    """Applies one `key.path=value` override (value parsed as YAML, bounded as a config file
    is) to a raw config mapping."""
    key, sep, raw = override.partition("=")
    where = f"override {shown(override)}"
    if not sep or not key:
        raise ConfigError(f"{where}: expected key.path=value")
    parts = key.split(".")
    if len(override) > MAX_CONFIG_BYTES or len(parts) > MAX_DEPTH:
        raise ConfigError(f"{where}: longer or deeper than a config may be")
    try:
        value = load_text(raw) if raw else None
    except yaml.YAMLError as err:
        raise ConfigError(f"{where}: value is not valid YAML ({_one_line(err)})") from None
    except ConfigError as err:
        raise ConfigError(f"{where}: {err}") from None
    node = values
    for i, part in enumerate(parts[:-1]):
        child = node.setdefault(part, {})
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"{where}: '{clip('.'.join(parts[: i + 1]))}' is not a section")
        node = child
    node[parts[-1]] = value


class _StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader with a config's bounds: keys are strings, each written once per
    mapping; at most MAX_DEPTH levels and MAX_VALUES values, aliases expanded.

    The bounds are checked while the document is composed, before any Python object exists:
    an alias adds the size of the node it names, so a file of a few lines that would expand to
    gigabytes is refused after reading those few lines.
    """

    def __init__(self, stream):
        super().__init__(stream)
        self._open: list[list[int]] = []  # [values, depth] below each node being composed
        self._sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (values, depth), composed
        self._total = 0  # values composed so far, aliases expanded

    def fetch_flow_collection_start(self, token_class):
        # Bounded in the scanner too: it looks ahead over every open `[` or `{` of a line, so
        # thousands of them cost seconds before the composer sees the first one.
        if self.flow_level >= MAX_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels (line {self.line + 1})")
        super().fetch_flow_collection_start(token_class)

    def compose_node(self, parent, index):
        mark = self.peek_event().start_mark
        if len(self._open) >= MAX_DEPTH:
            raise ConfigError(f"nested deeper than {MAX_DEPTH} levels (line {mark.line + 1})")
        alias = self.check_event(yaml.AliasEvent)
        self._open.append([0, 0])
        try:
            node = super().compose_node(parent, index)
        finally:
            below = self._open.pop()
        if not alias:
            self._sizes[id(node)] = (below[0] + 1, below[1] + 1)
        elif id(node) not in self._sizes:
            raise ConfigError(f"an alias refers to a node that contains it (line {mark.line + 1})")
        values, depth = self._sizes[id(node)]
        if len(self._open) + depth > MAX_DEPTH:
            raise ConfigError(
                f"nested deeper than {MAX_DEPTH} levels through aliases (line {mark.line + 1})"
            )
        if self._open:
            self._open[-1][0] += values
            self._open[-1][1] = max(self._open[-1][1], depth)
        self._total += values if alias else 1
        if self._total > MAX_VALUES:
            raise ConfigError(
                f"more than {MAX_VALUES:,} values once aliases are expanded (line {mark.line + 1})"
            )
        return node

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *base`, merged by PyYAML
                continue
            line = key_node.start_mark.line + 1
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                got = (
                    "a list"
                    if isinstance(key, list)
                    else "a mapping"
                    if isinstance(key, dict)
                    else shown(key, 60)
                )
                raise ConfigError(f"a key must be a name (a string), got {got} at line {line}")
            if key in seen:
                raise yaml.constructor.ConstructorError(  # YAML requires unique keys
                    None, None, f"key {shown(key, 60)} is written twice", key_node.start_mark
                )
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_text(text: str):
    """The value of YAML `text`, read safely within a config's bounds (see `_StrictLoader`).

    Raises:
        yaml.YAMLError: `text` is not valid YAML.
        ConfigError: it is, but not within a config's bounds.
    """
    return yaml.load(text, Loader=_StrictLoader)


def _one_line(err: Exception) -> str:
    return clip(" ".join(str(err).split()), 300)


def read_yaml(path: str) -> dict:
    """The mapping of a YAML config file, read safely within a config's bounds (a file of at
    most MAX_CONFIG_BYTES; see `_StrictLoader`).

    Raises:
        ConfigError: naming `path` and the problem.
    """
    if not os.path.isfile(path):
        what = "is not a readable regular file" if os.path.lexists(path) else "does not exist"
        raise ConfigError(f"config file {path} {what}")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)  # never more, whatever the file claims
    except OSError as err:
        raise ConfigError(f"config file {path} cannot be read: {_one_line(err)}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(
            f"config file {path} is larger than {MAX_CONFIG_BYTES // 1024} KB, too large for a "
            "config (the shipped ones are under 3 KB)"
        )
    try:
        values = load_text(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        raise ConfigError(f"config file {path} is not UTF-8 text: {_one_line(err)}") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"config file {path} is not valid YAML: {_one_line(err)}") from None
    except ConfigError as err:
        raise ConfigError(f"config file {path}: {err}") from None
    if values is None:
        return {}
    if not isinstance(values, dict):
        raise ConfigError(f"config file {path}: expected a mapping at the top level")
    return values
