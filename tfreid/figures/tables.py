"""Fixed-width text tables, as the tools print them (node proportions, gate weights, results).

A table is a list of `Column`s and rows of values; each cell is the value formatted with its
column's alignment, width and format spec, after the column's separator. Columns that share a
`group` get one title spanning them on a line above their own titles.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence
from typing import NamedTuple


class Column(NamedTuple):
    """One column of a text table.

    Attributes:
        title: the column's header.
        width: characters of a cell; a longer value overflows it, as `format` does.
        spec: the format spec of a value after alignment and width, e.g. ".4f" or "d".
        align: "<" (left) or ">" (right), for the title and the values.
        before: text printed before the column's cells, e.g. " " or " |".
        group: the title of a header spanning the consecutive columns of that group.
    """

    title: str
    width: int
    spec: str = ""
    align: str = ">"
    before: str = ""
    group: str | None = None


def text_table(columns: Sequence[Column], rows: Iterable[Sequence], rule: bool = False) -> list:
    """The table's lines: the header (two lines when columns are grouped: the group titles
    and the titles of ungrouped columns above, the grouped columns' titles below), a rule of
    dashes as long as the header when `rule`, then one line per row of values."""
    titles = [_cell(column, column.title) for column in columns]
    header = ["".join(titles)]
    if any(column.group is not None for column in columns):
        header = [_group_line(columns), _titles_below_groups(columns, titles)]
    lines = header + (["-" * len(header[-1])] if rule else [])
    for row in rows:
        lines.append(
            "".join(_cell(c, value, c.spec) for c, value in zip(columns, row, strict=True))
        )
    return lines


def _cell(column: Column, value, spec: str = "") -> str:
    return f"{column.before}{value:{column.align}{column.width}{spec}}"


def _group_line(columns: Sequence[Column]) -> str:
    parts = []
    for group, members in itertools.groupby(columns, key=lambda column: column.group):
        members = list(members)
        if group is None:
            parts += [_cell(column, column.title) for column in members]
            continue
        span = sum(len(column.before) + column.width for column in members)
        span -= len(members[0].before)
        parts.append(f"{members[0].before}{group:>{span}}")
    return "".join(parts)


def _titles_below_groups(columns: Sequence[Column], titles: Sequence[str]) -> str:
    blank = [" " * len(column.before) + " " * column.width for column in columns]
    return "".join(t if c.group is not None else b for c, t, b in zip(columns, titles, blank))
