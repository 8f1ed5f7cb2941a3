"""Error messages in one line: what a tool prints for any failure."""

from __future__ import annotations

import re


def first_line(err: BaseException | str) -> str:
    """The first non-empty line of an error's message, without TensorFlow's function-node
    prefix (`{{function_node ...}}`) and op suffix (`[Op:...]`); the error's type name when it
    has no message."""
    text = str(getattr(err, "message", err))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    line = re.sub(r"\{\{[^}]*\}\}\s*", "", lines[0]) if lines else ""
    line = re.sub(r"\s*\[Op:.*$", "", line).strip()
    return line or (type(err).__name__ if isinstance(err, BaseException) else "")
