"""tools/search.py as a user runs it: the answer of a query, and one line with the right exit
status for every bad input."""

import json
import os
import shutil
import sqlite3

import pytest
from tools_harness import assert_one_line_error, last_line, run_all

from tfreid.cli import UsageError
from tfreid.search import commands, store
from tfreid.search.vectors import VectorSettings

RGB = 0


@pytest.fixture(scope="module")
def indexes(saved_model, sysu_set, tmp_path_factory):
    """(an index of camera 1, a copy claiming format version 0)."""
    base = tmp_path_factory.mktemp("tool")
    index = str(base / "idx")
    commands.build(saved_model, os.path.join(sysu_set, "cam1"), RGB, index, VectorSettings())
    old = str(base / "old")
    shutil.copytree(index, old)
    with sqlite3.connect(os.path.join(old, store.DATABASE)) as db:
        db.execute("UPDATE info SET value = '0' WHERE key = 'format_version'")
    return index, old


def test_queries_and_bad_inputs(indexes, saved_model, other_saved_model, sysu_set, tmp_path):
    index, _ = indexes
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    broken = tmp_path / "broken"
    shutil.copytree(os.path.join(sysu_set, "cam2"), broken / "cam2")
    bad_file = broken / "cam2" / "notes.jpg"
    bad_file.write_text("not an image")
    queries = os.path.join(sysu_set, "cam3", sorted(os.listdir(os.path.join(sysu_set, "cam3")))[0])
    out = str(tmp_path / "out.json")
    query = ("search", "query", "--index", index, "--json", out)
    answered, same_modality, empty_folder, unreadable, other_model, negative = run_all(
        (*query, "--images", queries, "--modality", "ir", "--top-k", "3", "--html", out + ".html"),
        ("search", "query", "--index", index, "--json", str(tmp_path / "same.json"),
         "--images", os.path.join(sysu_set, "cam2"), "--modality", "rgb", "--top-k", "1"),
        ("search", "index", "--saved-model", saved_model, "--images", str(empty),
         "--modality", "rgb", "--index", str(tmp_path / "new")),
        ("search", "add", "--index", index, "--images", str(broken), "--modality", "rgb"),
        (*query, "--images", queries, "--modality", "ir", "--saved-model", other_saved_model),
        (*query, "--images", queries, "--modality", "ir", "--threshold", "-1"),
    )  # fmt: skip
    assert answered.returncode == 0, answered.stderr[-3000:]
    entries = json.loads(open(out).read())
    assert [e["query"] for e in entries] == sorted(
        os.path.join(queries, name) for name in os.listdir(queries)
    )
    assert all(len(e["matches"]) == 3 and e["no_match"] is False for e in entries)
    assert os.path.isfile(out + ".html")
    assert f"{len(entries)} queries, 0 without a match" in answered.stdout
    assert "error" not in last_line(answered.stderr)
    assert same_modality.returncode == 0, same_modality.stderr[-3000:]
    assert "note: the queries are RGB like the whole gallery" in same_modality.stderr
    assert_one_line_error(empty_folder, 2, f"no JPEG, PNG or BMP images under {empty}")
    assert_one_line_error(unreadable, 1, f"{bad_file}: is not an image file")
    assert_one_line_error(other_model, 2, f"SavedModel {other_saved_model} is not the model")
    assert_one_line_error(negative, 2, "must be a distance >= 0, got -1.0")
    assert not os.path.exists(tmp_path / "new")


def test_arguments_the_index_cannot_take_are_usage_errors(indexes, sysu_set, tmp_path):
    """Raised as UsageError: the tools print them in one line with exit status 2."""
    index, old = indexes
    queries = [os.path.join(sysu_set, "cam3", p) for p in ("0001",)]
    out = str(tmp_path / "out.json")
    cases = [
        (lambda: commands.search(old, queries, 1, 3, out), "format version 0; this tfreid reads"),
        (
            lambda: commands.search(index, queries, 1, 1000, out),
            "--top-k 1000 exceeds the gallery's",
        ),
        (
            lambda: commands.search(index, queries, 1, 3, out, threshold=2.5),
            "in \\[0, 2\\], got 2.5",
        ),
        (lambda: commands.remove(index, [str(tmp_path)]), "the index holds no image at or under"),
        (lambda: commands.search(str(tmp_path), queries, 1, 3, out), "is not a search index"),
    ]
    for call, message in cases:
        with pytest.raises(UsageError, match=message):
            call()
