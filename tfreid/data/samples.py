"""The record every reader returns: one image file with its identity, camera and modality."""

import errno
import os
import stat
from typing import NamedTuple

from tfreid.errors import shown_path

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
        raise DatasetError(
            f"{what} {shown_path(path)} cannot be reached (permission denied)"
        ) from None
    except OSError as err:
        raise DatasetError(f"{what} {shown_path(path)} {_missing(path, err)}") from None
    if not os.path.isdir(path):
        raise DatasetError(f"{what} {shown_path(path)} is not a directory")
    if not os.access(path, os.R_OK | os.X_OK):
        raise DatasetError(f"{what} {shown_path(path)} cannot be read (permission denied)")


def optional_dir(path: str, what: str) -> bool:
    """Whether the directory `path` exists; DatasetError when something else is there (a file,
    a dangling symlink, a symlink loop), which would otherwise be skipped unnoticed."""
    if not os.path.lexists(path):
        return False
    require_dir(path, what)
    return True


def list_images(directory: str) -> list[str]:
    """Image file names in `directory`, sorted; files are listed, never opened (what each one
    is, is checked by `file_problem` and tfreid.data.check before anything reads it)."""
    return sorted(n for n in os.listdir(directory) if n.lower().endswith(IMAGE_EXTENSIONS))


_KINDS = {
    stat.S_IFIFO: "FIFO (named pipe)",
    stat.S_IFCHR: "character device",
    stat.S_IFBLK: "block device",
    stat.S_IFSOCK: "socket",
}


def file_problem(path: str) -> str | None:
    """Why `path` is not a file the input pipeline may open, from its name and metadata only
    (os.stat): a FIFO or a device is never opened, as reading one may block forever or never
    end. None for a regular file (or a symlink to one) whose name is UTF-8."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        return (
            "has a name that is not UTF-8 (shown escaped), which TensorFlow cannot take; rename it"
        )
    try:
        mode = os.stat(path).st_mode
    except OSError as err:
        return _missing(path, err)
    if stat.S_ISDIR(mode):
        return "is a directory, not an image file"
    if not stat.S_ISREG(mode):
        return f"is a {_KINDS.get(stat.S_IFMT(mode), 'special file')}, not a regular file"
    return None


def _missing(path: str, err: OSError) -> str:
    """What `os.stat(path)`'s error `err` says about `path`, in words."""
    if err.errno == errno.ELOOP:
        return "is a symlink loop (too many levels of symbolic links)"
    if os.path.islink(path):
        return f"is a dangling symlink to {shown_path(os.readlink(path))}"
    return "does not exist" if err.errno == errno.ENOENT else err.strerror or str(err)
