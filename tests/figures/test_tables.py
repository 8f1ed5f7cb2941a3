"""Fixed-width text tables (tfreid/figures/tables.py), against tables written out by hand."""

from tfreid.figures.tables import Column, text_table


def test_plain_table_with_a_rule():
    columns = [Column("name", 6, align="<"), Column("n", 3, "d", before=" "), Column("x", 6, ".2f")]
    lines = text_table(columns, [["ab", 7, 1.5], ["longer", 123, float("nan")]], rule=True)
    assert lines == [
        "name     n     x",
        "----------------",
        "ab       7  1.50",
        "longer 123   nan",
    ]


def test_grouped_columns_share_a_title_line():
    columns = [
        Column("id", 3, align="<"),
        Column("a", 4, ".1f", before=" |", group="first"),
        Column("b", 4, ".1f", group="first"),
        Column("a", 4, ".1f", before=" |", group="second"),
    ]
    lines = text_table(columns, [["x", 1, 2, 3]])
    assert lines == [
        "id  |   first |second",
        "    |   a   b |   a",
        "x   | 1.0 2.0 | 3.0",
    ]


def test_a_value_wider_than_its_column_overflows():
    assert text_table([Column("v", 2)], [[12345]]) == [" v", "12345"]
