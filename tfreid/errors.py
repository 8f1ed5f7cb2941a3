"""Error messages in one line: what a tool prints for any failure, and values shown shortened."""

from __future__ import annotations

import os
import re
import reprlib

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
