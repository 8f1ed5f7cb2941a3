"""LLCM reader (Zhang & Wang, CVPR 2023): its layout and the galleries of the authors' test code.

Layout under the root (docs/datasets.md):

    idx/train_vis.txt, idx/train_nir.txt   lines `relative/path label`, labels 0..n-1; a label
                                           is the same person in both files
    idx/test_id.txt                        one line of comma-separated test ids
    test_vis/camN/PPPP/*.jpg               visible test images, cameras 1-9
    test_nir/camN/PPPP/*.jpg               near-infrared test images, cameras 1, 2, 4-9

A test image's identity and camera come from its folders (`camN/PPPP`); camera N is the same
physical camera in both modalities (it films by day in visible light, by night in NIR). Orders
follow the authors' code: ids sorted, cameras in the order above, files sorted by name.
"""

from __future__ import annotations

import os
import random

from tfreid.data.samples import (
    IR,
    RGB,
    DatasetError,
    ListEntry,
    Sample,
    images_per_camera,
    read_id_line,
    read_list_file,
    require_dir,
)

VIS_CAMERAS = (1, 2, 3, 4, 5, 6, 7, 8, 9)
NIR_CAMERAS = (1, 2, 4, 5, 6, 7, 8, 9)
TEST_FOLDERS = {RGB: ("test_vis", VIS_CAMERAS), IR: ("test_nir", NIR_CAMERAS)}
TRAIN_LISTS = {RGB: "train_vis.txt", IR: "train_nir.txt"}
NUM_TRIALS = 10
TRAINING_CAMERA = 0  # the training lists name no camera; nothing in training needs one


def train_list(root: str, modality: int) -> str:
    return os.path.join(root, "idx", TRAIN_LISTS[modality])


def test_id_file(root: str) -> str:
    return os.path.join(root, "idx", "test_id.txt")


def read_test_ids(root: str) -> list[int]:
    """The ids of `idx/test_id.txt`, sorted."""
    require_dir(root, "LLCM root")
    return read_id_line(test_id_file(root), "LLCM test id file")


def train_samples(root: str) -> list[Sample]:
    """Every image of both training lists; a sample's pid is its list label (0..n-1).

    Checked before any training: each list's labels are 0..n-1, both lists have the same
    labels, a label is one person folder and a person folder one label (in both lists), and
    no training image is of a test id.
    """
    require_dir(root, "LLCM root")
    entries = {
        modality: read_list_file(root, train_list(root, modality), "LLCM training list")
        for modality in (RGB, IR)
    }
    for modality, rows in entries.items():
        _check_zero_based(train_list(root, modality), rows)
    _check_same_labels(root, entries)
    _check_person_folders(entries, set(read_test_ids(root)))
    return [
        Sample(entry.path, entry.label, TRAINING_CAMERA, modality)
        for modality, rows in entries.items()
        for entry in rows
    ]


def _check_zero_based(path: str, rows: list[ListEntry]) -> None:
    count = len({entry.label for entry in rows})
    for entry in rows:
        if not 0 <= entry.label < count:
            raise DatasetError(
                f"{entry.where}: label {entry.label} is outside 0..{count - 1}: the file has "
                f"{count} labels, which must be 0..{count - 1}"
            )


def _check_same_labels(root: str, entries: dict[int, list[ListEntry]]) -> None:
    """Every label has images of both modalities (the batch sampler draws from both)."""
    for modality, other in ((RGB, IR), (IR, RGB)):
        others = {entry.label for entry in entries[other]}
        for entry in entries[modality]:
            if entry.label not in others:
                raise DatasetError(
                    f"{entry.where}: label {entry.label} has no image in "
                    f"{train_list(root, other)}; each label must have images of both modalities"
                )


def _check_person_folders(entries: dict[int, list[ListEntry]], test_ids: set[int]) -> None:
    """A label is one person folder (the image's parent folder) in both lists, and back."""
    folder_of: dict[int, tuple[str, str]] = {}
    label_of: dict[str, tuple[int, str]] = {}
    for entry in (entry for rows in entries.values() for entry in rows):
        folder = os.path.basename(os.path.dirname(entry.path))
        if folder.isdigit() and int(folder) in test_ids:
            raise DatasetError(
                f"{entry.where}: {entry.path} is of test id {int(folder)} (idx/test_id.txt): "
                "a test identity must not train"
            )
        seen_folder, seen_at = folder_of.setdefault(entry.label, (folder, entry.where))
        seen_label, label_at = label_of.setdefault(folder, (entry.label, entry.where))
        if seen_folder != folder:
            raise DatasetError(
                f"{entry.where}: label {entry.label} is person folder {folder}, but folder "
                f"{seen_folder} at {seen_at}"
            )
        if seen_label != entry.label:
            raise DatasetError(
                f"{entry.where}: person folder {folder} has label {entry.label}, but label "
                f"{seen_label} at {label_at}"
            )


def _person_files(root: str, modality: int, pid: int) -> dict[int, list[str]]:
    folder, cameras = TEST_FOLDERS[modality]
    return images_per_camera(
        {c: os.path.join(root, folder, f"cam{c}", f"{pid:04d}") for c in cameras}, "LLCM"
    )


def _test_files(root: str, modality: int) -> dict[int, dict[int, list[str]]]:
    """{test id: {camera: sorted names}} of one modality; every test id must have images."""
    files = {}
    for pid in read_test_ids(root):
        files[pid] = _person_files(root, modality, pid)
        if not files[pid]:
            folder, cameras = TEST_FOLDERS[modality]
            raise DatasetError(
                f"{test_id_file(root)} line 1: test id {pid} has no images in {folder} "
                f"(no folder {folder}/camN/{pid:04d} for N in {', '.join(map(str, cameras))})"
            )
    return files


def _sample(root: str, modality: int, camid: int, pid: int, name: str) -> Sample:
    folder = TEST_FOLDERS[modality][0]
    return Sample(
        os.path.join(root, folder, f"cam{camid}", f"{pid:04d}", name), pid, camid, modality
    )


def test_samples(root: str, modality: int) -> list[Sample]:
    """Every test image of one modality (RGB: visible, IR: NIR): the authors' query set."""
    return [
        _sample(root, modality, camid, pid, name)
        for pid, cameras in _test_files(root, modality).items()
        for camid, names in cameras.items()
        for name in names
    ]


def gallery_samples(root: str, modality: int, trial: int) -> list[Sample]:
    """One trial's draw: one image per (test id, camera) of `modality`, as the authors' code
    draws it: Python's `random.seed(trial)`, then `random.choice(sorted files)` per id (sorted)
    and camera (in order) that has a folder."""
    if not 0 <= trial < NUM_TRIALS:
        raise ValueError(f"trial must be in 0..{NUM_TRIALS - 1}, got {trial}")
    rng = random.Random(trial)  # the same stream as random.seed(trial)
    return [
        _sample(root, modality, camid, pid, rng.choice(names))
        for pid, cameras in _test_files(root, modality).items()
        for camid, names in cameras.items()
    ]
