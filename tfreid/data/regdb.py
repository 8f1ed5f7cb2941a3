"""RegDB reader: `Visible/`, `Thermal/` and `idx/{train,test}_{visible,thermal}_{t}.txt` splits.

Each split line is `relative/path.bmp label`. The pid is the folder id in the path (the data
set's own id); the file's label, 0-based within the split, must map one-to-one onto those ids,
which catches a split file paired with the wrong image tree.
"""

from __future__ import annotations

import os

from tfreid.data.samples import (
    IR,
    RGB,
    DatasetError,
    Sample,
    image_file,
    list_lines,
    path_components,
    require_dir,
)
from tfreid.errors import shown

MODALITIES = {"visible": ("Visible", 1, RGB), "thermal": ("Thermal", 2, IR)}
SPLITS = ("train", "test")
NUM_TRIALS = 10


def split_file(root: str, trial: int, split: str, modality: str) -> str:
    return os.path.join(root, "idx", f"{split}_{modality}_{trial}.txt")


def split_samples(
    root: str, trial: int = 1, split: str = "train", modality: str = "visible"
) -> list[Sample]:
    """The samples of one split file, in file order; camid 1 = visible, 2 = thermal."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if modality not in MODALITIES:
        raise ValueError(f"modality must be one of {sorted(MODALITIES)}, got {modality!r}")
    if not 1 <= trial <= NUM_TRIALS:
        raise ValueError(f"RegDB trial must be in 1..{NUM_TRIALS}, got {trial}")
    require_dir(root, "RegDB root")
    path = split_file(root, trial, split, modality)
    folder, camid, modality_label = MODALITIES[modality]
    entries = _read_entries(root, path, folder)
    if not entries:
        raise DatasetError(f"RegDB split file {path} lists no images")
    _check_labels(path, entries)
    return [Sample(os.path.join(root, rel), pid, camid, modality_label) for rel, pid, _ in entries]


def _read_entries(root: str, path: str, folder: str) -> list[tuple[str, int, int]]:
    """(relative path, folder pid, file label) per line, each checked against the layout."""
    return [
        (rel, _pid_of(root, rel, folder, where), label)
        for where, rel, label in list_lines(path, "RegDB split file", "relative/path.bmp label")
    ]


def _pid_of(root: str, rel: str, folder: str, where: str) -> int:
    components = path_components(root, rel, where)
    if len(components) != 3 or components[0] != folder:
        raise DatasetError(f"{where}: expected a path '{folder}/<id>/<file>', got {shown(rel)}")
    if not components[1].isascii() or not components[1].isdigit():
        raise DatasetError(f"{where}: folder {shown(components[1])} is not a person id")
    image_file(os.path.join(root, rel), where)
    return int(components[1])


def _check_labels(path: str, entries: list[tuple[str, int, int]]) -> None:
    """Labels must be 0..n-1 and map one-to-one onto the folder ids."""
    label_of: dict[int, int] = {}
    pid_of: dict[int, int] = {}
    for rel, pid, label in entries:
        if label_of.setdefault(pid, label) != label or pid_of.setdefault(label, pid) != pid:
            raise DatasetError(
                f"{path}: label {label} of {rel} disagrees with the folder id {pid} "
                f"(id {pid} has label {label_of[pid]}, label {label} has id {pid_of.get(label)})"
            )
    if sorted(pid_of) != list(range(len(pid_of))):
        raise DatasetError(
            f"{path}: labels must be 0..{len(pid_of) - 1} (0-based within the split)"
        )
