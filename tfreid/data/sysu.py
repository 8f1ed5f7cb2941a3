"""SYSU-MM01 reader: the real on-disk layout, the official and the seeded gallery selection.

Layout: `ROOT/camC/PPPP/NNNN.jpg` for cameras 1-6 (RGB 1, 2, 4, 5; IR 3, 6) and the split files
`ROOT/exp/{train,val,test}_id.txt`, each one line of comma-separated ids. Orders follow the
reference evaluation code (docs/protocols.md): ids sorted, cameras in the order given, files
sorted by name.
"""

from __future__ import annotations

import os
import random

import numpy as np
import scipy.io

from tfreid.data.samples import (
    IR,
    RGB,
    DatasetError,
    Sample,
    images_per_camera,
    read_id_line,
    require_dir,
)

RGB_CAMERAS = (1, 2, 4, 5)
IR_CAMERAS = (3, 6)
ALL_CAMERAS = (1, 2, 3, 4, 5, 6)
GALLERY_CAMERAS = {"all": (1, 2, 4, 5), "indoor": (1, 2)}
NUM_TRIALS = 10


def read_ids(root: str, split: str) -> list[int]:
    """Ids of `exp/{split}_id.txt` (train, val or test), sorted; each must be a non-negative
    integer, listed once (an id listed twice would count that person's queries twice)."""
    require_dir(root, "SYSU-MM01 root")
    return read_id_line(os.path.join(root, "exp", f"{split}_id.txt"), "SYSU-MM01 split file")


def test_ids(root: str) -> list[int]:
    """The test ids, checked: none is also a training (train or val) id, and every one has a
    folder in some camera (an id without one would silently leave the test set)."""
    ids = read_ids(root, "test")
    training = set(read_ids(root, "train")) | set(read_ids(root, "val"))
    shared = sorted(training.intersection(ids))
    if shared:
        path = os.path.join(root, "exp", "test_id.txt")
        raise DatasetError(f"{path}: test id {shared[0]} is also a training (train/val) id")
    _all_samples(root, ids, ALL_CAMERAS, "test")  # raises for an id without a folder
    return ids


def _folder(root: str, camid: int, pid: int) -> str:
    return os.path.join(root, f"cam{camid}", f"{pid:04d}")


def _person_files(root: str, pid: int, cameras: tuple[int, ...]) -> dict[int, list[str]]:
    """Sorted image names per camera that has a folder for `pid`."""
    return images_per_camera({c: _folder(root, c, pid) for c in cameras}, "SYSU-MM01")


def _sample(root: str, camid: int, pid: int, name: str) -> Sample:
    modality = IR if camid in IR_CAMERAS else RGB
    return Sample(os.path.join(_folder(root, camid, pid), name), pid, camid, modality)


def _all_samples(root: str, pids: list[int], cameras: tuple[int, ...], what: str) -> list[Sample]:
    samples = []
    for pid in pids:
        per_camera = _person_files(root, pid, cameras)
        if not per_camera:
            cams = ", ".join(f"cam{c}" for c in cameras)
            raise DatasetError(f"SYSU-MM01 {what} id {pid} has no folder in any of {cams}")
        for camid, names in per_camera.items():
            samples.extend(_sample(root, camid, pid, name) for name in names)
    return samples


TRAIN_SPLITS = {"train_val": ("train", "val"), "train": ("train",)}


def train_samples(root: str, split: str = "train_val") -> list[Sample]:
    """Every image of cameras 1-6 of the training ids: train + val ("train_val", 395 ids on
    the real set) or train alone ("train", 296 ids: ICCV 2017's, the val ids held out)."""
    if split not in TRAIN_SPLITS:
        raise ValueError(f"split must be one of {sorted(TRAIN_SPLITS)}, got {split!r}")
    pids = sorted({pid for part in TRAIN_SPLITS[split] for pid in read_ids(root, part)})
    return _all_samples(root, pids, ALL_CAMERAS, "training")


def val_ids(root: str) -> list[int]:
    return read_ids(root, "val")


def test_samples(root: str) -> list[Sample]:
    """Every image, in any camera, of the test ids: what any evaluation may read."""
    return _all_samples(root, test_ids(root), ALL_CAMERAS, "test")


def query_samples(
    root: str, pids: list[int] | None = None, cameras: tuple[int, ...] = IR_CAMERAS
) -> list[Sample]:
    """Every image of `cameras` of the test ids (or of `pids`): ids sorted, cameras in order,
    files sorted. The default, the IR cameras 3 and 6, gives the cross-modality queries (the
    same for both modes); the RGB cameras give the RGB -> RGB queries."""
    pids = test_ids(root) if pids is None else sorted(pids)
    samples = []
    for pid in pids:
        for camid, names in _person_files(root, pid, cameras).items():
            samples.extend(_sample(root, camid, pid, name) for name in names)
    if not samples:
        where = "/".join(f"cam{c}" for c in cameras)
        raise DatasetError(f"SYSU-MM01 root {root}: no query images in {where} for the ids")
    return samples


def gallery_samples(
    root: str,
    mode: str = "all",
    shots: int = 1,
    trial: int = 0,
    permutation_file: str | None = None,
    pids: list[int] | None = None,
    cameras: tuple[int, ...] | None = None,
) -> list[Sample]:
    """One trial's gallery: `shots` images per (test id, gallery camera) that has a folder.

    The gallery cameras are the mode's (`GALLERY_CAMERAS`) unless `cameras` names others (the
    single-modality galleries draw from the IR or the RGB cameras).

    Without `permutation_file` the draws reproduce the widely used Python port exactly:
    `random.seed(trial)` once, then `random.choice(sorted(files))` (single-shot) or
    `random.sample(sorted(files), min(shots, n))` per (sorted id, camera). With the kit's
    `rand_perm_cam.mat`, trial t takes the first `shots` entries of row t of that (camera, id)'s
    1-based permutation.
    """
    if mode not in GALLERY_CAMERAS:
        raise ValueError(f"mode must be one of {sorted(GALLERY_CAMERAS)}, got {mode!r}")
    if shots < 1:
        raise ValueError(f"shots must be >= 1, got {shots}")
    if not 0 <= trial < NUM_TRIALS:
        raise ValueError(f"trial must be in 0..{NUM_TRIALS - 1}, got {trial}")
    pids = test_ids(root) if pids is None else sorted(pids)
    permutations = load_permutations(permutation_file) if permutation_file else None
    rng = random.Random(trial)  # the same stream as random.seed(trial)
    samples = []
    for pid in pids:
        for camid, names in _person_files(root, pid, cameras or GALLERY_CAMERAS[mode]).items():
            if permutations is None:
                chosen = _seeded_choice(rng, names, shots)
            else:
                chosen = _official_choice(
                    permutations, permutation_file, camid, pid, names, shots, trial
                )
            samples.extend(_sample(root, camid, pid, name) for name in chosen)
    if not samples:
        where = f"{mode}-search" if cameras is None else "/".join(f"cam{c}" for c in cameras)
        raise DatasetError(f"SYSU-MM01 root {root}: empty {where} gallery")
    return samples


def _seeded_choice(rng: random.Random, names: list[str], shots: int) -> list[str]:
    if shots == 1:
        return [rng.choice(names)]
    return rng.sample(names, min(shots, len(names)))


def load_permutations(path: str) -> np.ndarray:
    """The kit's `rand_perm_cam` cell array: [camera][0] -> per-person 10 x n permutations."""
    if not os.path.isfile(path):
        what = "is not a regular file" if os.path.lexists(path) else "does not exist"
        raise DatasetError(f"SYSU-MM01 permutation file {path} {what}")
    try:
        content = scipy.io.loadmat(path)
    except (scipy.io.matlab.MatReadError, ValueError, OSError, TypeError) as err:
        raise DatasetError(f"{path} is not a readable MATLAB file: {err}") from None
    if "rand_perm_cam" not in content:
        raise DatasetError(f"{path} has no variable 'rand_perm_cam'")
    cells = content["rand_perm_cam"]
    if cells.dtype != object or cells.size != 6:
        raise DatasetError(
            f"{path}: rand_perm_cam must be a cell array of 6 cameras, got shape {cells.shape}"
        )
    return cells.reshape(-1)


def _official_choice(
    permutations: np.ndarray,
    path: str,
    camid: int,
    pid: int,
    names: list[str],
    shots: int,
    trial: int,
) -> list[str]:
    persons = np.asarray(permutations[camid - 1]).reshape(-1)
    if pid > persons.size:
        raise DatasetError(
            f"{path}: camera {camid} has permutations for {persons.size} ids, not for id {pid}"
        )
    perm = np.asarray(persons[pid - 1])
    if perm.ndim != 2 or perm.shape[1] != len(names) or perm.shape[0] <= trial:
        raise DatasetError(
            f"{path}: camera {camid} id {pid}: expected a {NUM_TRIALS} x {len(names)} permutation "
            f"(the folder has {len(names)} images), got shape {perm.shape}"
        )
    row = perm[trial, :shots].astype(int)
    if row.min() < 1 or row.max() > len(names):
        raise DatasetError(f"{path}: camera {camid} id {pid}: indices outside 1..{len(names)}")
    return [names[i - 1] for i in row]
