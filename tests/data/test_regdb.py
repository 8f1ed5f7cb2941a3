"""RegDB reader on tiny hand-made trees."""

import os

import pytest

from tfreid.data import regdb
from tfreid.data.samples import IR, RGB, DatasetError


def make_tree(root, train=(3, 7), test=(5,), per_id=2):
    """Images touched (never opened) and trial-1 split files with labels by sorted id."""
    for folder, tag in (("Visible", "v"), ("Thermal", "t")):
        for pid in train + test:
            (root / folder / str(pid)).mkdir(parents=True)
            for n in range(per_id):
                (
                    root / folder / str(pid) / f"male_front_{tag}_{pid * 10 + n:05d}_{pid}.bmp"
                ).touch()
    (root / "idx").mkdir()
    for split, ids in (("train", train), ("test", test)):
        for modality, folder, tag in (("visible", "Visible", "v"), ("thermal", "Thermal", "t")):
            lines = [
                f"{folder}/{pid}/male_front_{tag}_{pid * 10 + n:05d}_{pid}.bmp {label}"
                for label, pid in enumerate(sorted(ids))
                for n in range(per_id)
            ]
            (root / "idx" / f"{split}_{modality}_1.txt").write_text("\n".join(lines) + "\n")
    return str(root)


def test_split_samples_fields_and_order(tmp_path):
    root = make_tree(tmp_path)
    got = regdb.split_samples(root, trial=1, split="train", modality="thermal")
    assert [(s.pid, s.camid, s.modality) for s in got] == [(3, 2, IR)] * 2 + [(7, 2, IR)] * 2
    assert got[0].path == os.path.join(root, "Thermal/3/male_front_t_00030_3.bmp")
    visible = regdb.split_samples(root, trial=1, split="test", modality="visible")
    assert [(s.pid, s.camid, s.modality) for s in visible] == [(5, 1, RGB)] * 2


def rewrite_line(root, name, number, text):
    path = os.path.join(root, "idx", name)
    lines = open(path).read().splitlines()
    lines[number] = text
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    "line, message",
    [
        (
            "Visible/7/male_front_v_00070_7.bmp 0",
            "label 0 of Visible/7/.* disagrees with the folder id 7",
        ),
        ("Visible/3/male_front_v_00030_3.bmp", "expected 'relative/path.bmp label'"),
        ("Visible/3/male_front_v_00030_3.bmp x", "label 'x' is not an integer"),
        ("../Visible/3/male_front_v_00030_3.bmp 0", "points outside the root"),
        ("/etc/passwd 0", "points outside the root"),
        ("Thermal/3/male_front_t_00030_3.bmp 0", "expected a path 'Visible/<id>/<file>'"),
        ("Visible/3/missing.bmp 0", "missing.bmp does not exist"),
    ],
)
def test_bad_split_lines_name_file_line_and_problem(tmp_path, line, message):
    root = make_tree(tmp_path)
    rewrite_line(root, "train_visible_1.txt", 2, line)
    with pytest.raises(DatasetError, match=r"train_visible_1.txt( line 3)?: .*" + message):
        regdb.split_samples(root, 1, "train", "visible")


def test_labels_must_be_zero_based_within_the_split(tmp_path):
    root = make_tree(tmp_path)
    path = os.path.join(root, "idx", "train_visible_1.txt")
    text = open(path).read().replace(" 1\n", " 2\n")  # id 7 -> label 2: consistent, not 0..1
    open(path, "w").write(text)
    with pytest.raises(DatasetError, match=r"labels must be 0..1"):
        regdb.split_samples(root, 1, "train", "visible")


def test_missing_root_split_file_and_empty_split(tmp_path):
    with pytest.raises(DatasetError, match="RegDB root .*nowhere does not exist"):
        regdb.split_samples(str(tmp_path / "nowhere"))
    root = make_tree(tmp_path / "regdb")
    with pytest.raises(DatasetError, match=r"missing RegDB split file .*train_visible_2.txt"):
        regdb.split_samples(root, trial=2)
    open(os.path.join(root, "idx", "test_thermal_1.txt"), "w").close()
    with pytest.raises(DatasetError, match="lists no images"):
        regdb.split_samples(root, 1, "test", "thermal")
    with pytest.raises(ValueError, match="trial must be in 1..10"):
        regdb.split_samples(root, trial=0)
    with pytest.raises(ValueError, match="modality must be one of"):
        regdb.split_samples(root, modality="infrared")
