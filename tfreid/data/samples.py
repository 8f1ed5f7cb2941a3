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
        pid: the data set's own person id (SYSU folder id, RegDB folder id).
        camid: camera number (SYSU 1-6; RegDB 1 = visible, 2 = thermal).
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
