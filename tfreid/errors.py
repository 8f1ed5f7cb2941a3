"""tfreid's errors and their messages in one line: the exception classes the tools report, what
a tool prints for any failure, and values shown shortened."""

from __future__ import annotations

import os
import re
import reprlib

# The errors tools report in one line (tfreid.cli): exit 2 for UsageError, 1 for the others.
# They live here, in a module importing nothing of tfreid, so that a reader finds them in one
# place and a tool catches them without importing the modules that raise them.


class ConfigError(ValueError):
    """A configuration file or override that cannot be used as given."""


class UsageError(ValueError):
    """An argument that cannot be used as given (exit 2), e.g. an output path that holds
    something the tool must not replace."""


class DatasetError(ValueError):
    """A data set on disk that does not have the layout or content a reader expects."""


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: damaged, another config's, or none intact."""


class WorkDirBusy(OSError):
    """Another process runs in the work dir (its lock is held)."""


class TrainingDiverged(RuntimeError):
    """A loss became NaN or infinite; the last good checkpoint is kept."""


class WeightsUnavailable(OSError):
    """The pretrained weights cannot be had here: no network and no cached file, a file that
    fails its hash, or torch missing for a conversion."""


class TorchMissing(OSError):
    """torch, needed only to read a PyTorch checkpoint, is not installed."""


class ParityError(ValueError):
    """An export whose embeddings differ from its reference's beyond the bound."""


MAX_LINE = 2000  # characters of an error line; a longer one is cut (see `first_line`)

_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist, _SHORT.maxtuple = 3, 6, 8, 8
_SHORT.maxstring = _SHORT.maxother = 80


def shown(value, limit: int = 120) -> str:
    """`repr(value)` shortened to about `limit` characters, without building the whole repr:
    an error names a value, it never echoes a huge one (a list of a million items, a long
    string)."""
    return clip(_SHORT.repr(value), limit)


def clip(text: str, limit: int = 120) -> str:
    """`text` cut to `limit` characters (the cut marked by "...")."""
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def shown_path(path: str) -> str:
    """`path` as it can be printed: bytes that are not UTF-8 (a name from another system's
    encoding) are shown escaped, as `\\xe9`."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def first_line(err: BaseException | str) -> str:
    """The first non-empty line of an error's message, without TensorFlow's function-node
    prefix (`{{function_node ...}}`) and op suffix (`[Op:...]`), cut at MAX_LINE characters;
    the error's type name when it has no message."""
    text = str(getattr(err, "message", err))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = re.sub(r"\{\{[^}]*\}\}\s*", "", lines[0]) if lines else ""
    line = re.sub(r"\s*\[Op:.*$", "", line).strip()
    if len(line) > MAX_LINE:
        line = f"{line[:MAX_LINE]}... ({len(line) - MAX_LINE} more characters)"
    return line or (type(err).__name__ if isinstance(err, BaseException) else "")
