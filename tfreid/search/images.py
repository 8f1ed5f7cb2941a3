"""The images of a folder, with the camera and id its layout gives.

A SYSU-MM01 root (`camC/PPPP/*.jpg` plus `exp/`) gives the cameras of the asked modality
(RGB 1, 2, 4, 5; IR 3, 6), optionally only the ids of one split file; a RegDB root gives
`Visible/` (RGB) or `Thermal/` (IR). Any other folder gives every JPEG, PNG or BMP file under
it, recursively, in sorted order; a file whose last folders read `camC/PPPP/` or
`Visible|Thermal/<id>/` still gets that camera and id. Images without a layout have pid and
camid None.
"""

from __future__ import annotations

import os
import re

from tfreid.data import sysu
from tfreid.data.samples import (
    IMAGE_EXTENSIONS,
    IR,
    MODALITY_NAMES,
    RGB,
    DatasetError,
    Sample,
    list_images,
    require_dir,
)
from tfreid.errors import UsageError

MODALITIES = {name: value for value, name in MODALITY_NAMES.items()}  # "rgb" -> 0, "ir" -> 1
REGDB_FOLDERS = {"Visible": (1, RGB), "Thermal": (2, IR)}
_SYSU_PATH = re.compile(r"(?:^|/)cam([1-6])/(\d+)/[^/]+$")
_REGDB_PATH = re.compile(r"(?:^|/)(Visible|Thermal)/(\d+)/[^/]+$")


def collect_images(directory: str, modality: int, split: str | None = None) -> list[Sample]:
    """Every image `directory` holds for `modality` (RGB 0, IR 1), see the module docstring.

    Raises:
        UsageError: no image there, a split outside a SYSU-MM01 root, or a layout camera of
            the other modality in a plain folder.
        DatasetError: the directory (or a split file) cannot be read.
    """
    require_dir(directory, "image folder")
    if _is_sysu_root(directory):
        samples = _sysu_images(directory, modality, split)
    elif split is not None:
        raise UsageError(f"--split needs a SYSU-MM01 root (camC/ and exp/); {directory} is not")
    elif all(os.path.isdir(os.path.join(directory, name)) for name in REGDB_FOLDERS):
        samples = _regdb_images(directory, modality)
    else:
        samples = _folder_images(directory, modality)
    if not samples:
        what = f"{MODALITY_NAMES[modality].upper()} " if _has_layout(directory) else ""
        raise UsageError(f"no {what}JPEG, PNG or BMP images under {directory}")
    return samples


def image_sample(path: str, modality: int) -> Sample:
    """One file as a Sample: camera and id from its folders when they follow a layout."""
    camid, pid = layout_of(path)
    return Sample(path, pid, camid, modality)


def layout_of(path: str) -> tuple[int | None, int | None]:
    """(camera, id) of a path ending `camC/PPPP/file` (SYSU-MM01) or `Visible|Thermal/<id>/file`
    (RegDB; camera 1 visible, 2 thermal), else (None, None)."""
    normalised = os.path.abspath(path).replace(os.sep, "/")
    if match := _SYSU_PATH.search(normalised):
        return int(match.group(1)), int(match.group(2))
    if match := _REGDB_PATH.search(normalised):
        return REGDB_FOLDERS[match.group(1)][0], int(match.group(2))
    return None, None


def camera_modality(path: str, camid: int) -> int:
    """The modality a layout camera records: SYSU-MM01 cameras 3 and 6, RegDB's Thermal are IR."""
    if _SYSU_PATH.search(os.path.abspath(path).replace(os.sep, "/")):
        return IR if camid in sysu.IR_CAMERAS else RGB
    return IR if camid == REGDB_FOLDERS["Thermal"][0] else RGB


def _is_sysu_root(directory: str) -> bool:
    cameras = [os.path.isdir(os.path.join(directory, f"cam{c}")) for c in sysu.ALL_CAMERAS]
    return any(cameras) and os.path.isdir(os.path.join(directory, "exp"))


def _has_layout(directory: str) -> bool:
    return _is_sysu_root(directory) or all(
        os.path.isdir(os.path.join(directory, name)) for name in REGDB_FOLDERS
    )


def _sysu_images(root: str, modality: int, split: str | None) -> list[Sample]:
    cameras = sysu.IR_CAMERAS if modality == IR else sysu.RGB_CAMERAS
    wanted = set(sysu.read_ids(root, split)) if split else None
    samples = []
    for camid in cameras:
        camera_dir = os.path.join(root, f"cam{camid}")
        if not os.path.isdir(camera_dir):
            continue
        for person in sorted(os.listdir(camera_dir)):
            folder = os.path.join(camera_dir, person)
            if not (person.isdigit() and os.path.isdir(folder)):
                continue
            if wanted is None or int(person) in wanted:
                samples += [
                    Sample(os.path.join(folder, name), int(person), camid, modality)
                    for name in list_images(folder)
                ]
    return samples


def _regdb_images(root: str, modality: int) -> list[Sample]:
    name = next(name for name, (_, m) in REGDB_FOLDERS.items() if m == modality)
    top = os.path.join(root, name)
    camid = REGDB_FOLDERS[name][0]
    return [
        Sample(os.path.join(top, person, file), int(person), camid, modality)
        for person in sorted(os.listdir(top))
        if person.isdigit() and os.path.isdir(os.path.join(top, person))
        for file in list_images(os.path.join(top, person))
    ]


def _unreadable_folder(err: OSError) -> None:
    raise DatasetError(f"folder {err.filename} cannot be read: {err.strerror or err}")


def _folder_images(directory: str, modality: int) -> list[Sample]:
    samples = []
    for folder, subfolders, files in os.walk(directory, onerror=_unreadable_folder):
        subfolders.sort()
        names = sorted(n for n in files if n.lower().endswith(IMAGE_EXTENSIONS))
        samples += [image_sample(os.path.join(folder, name), modality) for name in names]
    other = [
        s for s in samples if s.camid is not None and camera_modality(s.path, s.camid) != modality
    ]
    if other:
        theirs = MODALITY_NAMES[1 - modality]
        raise UsageError(
            f"{len(other)} image(s) under {directory} are in {theirs.upper()} camera folders of "
            f"the SYSU-MM01 / RegDB layout (e.g. {other[0].path}); give --modality {theirs} or "
            "point --images at the other cameras"
        )
    return samples
