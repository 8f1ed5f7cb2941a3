"""The record every reader returns: one image file with its identity, camera and modality."""

import os
from typing import NamedTuple

RGB = 0
IR = 1
MODALITY_NAMES = {RGB: "rgb", IR: "ir"}


class Sample(NamedTuple):
    """One image on disk.

    Attributes:
        path: absolute or root-relative path of the image file.
        pid: the data set's own person id (SYSU folder id, RegDB folder id, LLCM test folder
            id); LLCM training images carry the list file's label (0..n-1).
        camid: camera number (SYSU 1-6; RegDB 1 = visible, 2 = thermal; LLCM test 1-9 and 0
            for training images, whose lists name no camera).
        modality: RGB (0) or IR (1).
    """

    path: str
    pid: int
    camid: int
    modality: int


IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp")


class DatasetError(ValueError):
    """A data set on disk that does not have the layout or content a reader expects."""


def require_dir(path: str, what: str) -> None:
    """Raises DatasetError unless `path` is a directory this process can list."""
    try:
        os.stat(path)
    except PermissionError:
        raise DatasetError(f"{what} {path} cannot be reached (permission denied)") from None
    except OSError:
        raise DatasetError(f"{what} {path} does not exist") from None
    if not os.path.isdir(path):
        raise DatasetError(f"{what} {path} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DatasetError(f"{what} {path} cannot be read (permission denied)")


def list_images(directory: str) -> list[str]:
    """Image file names in `directory`, sorted; files are listed, never opened."""
    return sorted(n for n in os.listdir(directory) if n.lower().endswith(IMAGE_EXTENSIONS))


def read_id_line(path: str, what: str) -> list[int]:
    """Ids of a split file holding one line of comma-separated integers, sorted; an id listed
    twice is an error (it would count that person's queries twice).

    Args:
        path: the file (SYSU-MM01 exp/*_id.txt, LLCM idx/test_id.txt).
        what: names the file in errors, e.g. "SYSU-MM01 split file".
    """
    if not os.path.isfile(path):
        raise DatasetError(f"missing {what} {path}")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read().strip()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{what} {path} cannot be read: {err}") from None
    try:
        ids = [int(token) for token in text.split(",") if token.strip()]
    except ValueError:
        raise DatasetError(
            f"{path}: expected one line of comma-separated integer ids, got {text[:80]!r}"
        ) from None
    if not ids:
        raise DatasetError(f"{path} lists no ids")
    twice = sorted({pid for pid in ids if ids.count(pid) > 1})
    if twice:
        raise DatasetError(f"{path} lists id {twice[0]} more than once")
    return sorted(ids)


def images_per_camera(folders: dict[int, str], what: str) -> dict[int, list[str]]:
    """Sorted image names per camera whose folder exists; a folder without images is an error
    (a gallery draw from it would fail).

    Args:
        folders: {camera: one person's folder of that camera}.
        what: the data set's name for errors, e.g. "SYSU-MM01".
    """
    files = {}
    for camid, folder in folders.items():
        if os.path.isdir(folder):
            names = list_images(folder)
            if not names:
                raise DatasetError(f"{what} folder {folder} holds no images")
            files[camid] = names
    return files


class ListEntry(NamedTuple):
    """One line of a `relative/path label` list file.

    Attributes:
        where: "FILE line N", for errors.
        path: the image's path under the root.
        label: the line's integer label.
    """

    where: str
    path: str
    label: int


def read_list_file(root: str, path: str, what: str) -> list[ListEntry]:
    """The lines of a `relative/path label` list, each image checked to exist under `root`.

    Args:
        root: the data set root the paths are relative to.
        path: the list file.
        what: names the file in errors, e.g. "LLCM training list".

    Raises:
        DatasetError: one line naming the file (and line) of the first problem.
    """
    if not os.path.isfile(path):
        raise DatasetError(f"missing {what} {path}")
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{what} {path} cannot be read: {err}") from None
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        parts = line.split()
        if len(parts) != 2:
            raise DatasetError(f"{where}: expected 'relative/path label', got {line!r}")
        rel, label = parts
        try:
            label = int(label)
        except ValueError:
            raise DatasetError(f"{where}: label {label!r} is not an integer") from None
        entries.append(ListEntry(where, image_under(root, rel, where), label))
    if not entries:
        raise DatasetError(f"{what} {path} lists no images")
    return entries


def image_under(root: str, rel: str, where: str) -> str:
    """`root`/`rel` after checking that `rel` stays inside the root and names a file."""
    components = rel.replace("\\", "/").split("/")
    if os.path.isabs(rel) or ".." in components:
        raise DatasetError(f"{where}: path {rel!r} points outside the root {root}")
    path = os.path.join(root, rel)
    if not os.path.isfile(path):
        raise DatasetError(f"{where}: image {path} does not exist")
    return path
