"""The record every reader returns: one image file with its identity, camera and modality."""

import collections
import errno
import os
import re
import stat
from typing import NamedTuple

from tfreid.errors import DatasetError, shown, shown_path

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
_ID = re.compile(r"[0-9]+")  # a split file's id: a non-negative integer


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


def read_text(path: str, what: str) -> str:
    """The UTF-8 text of a data set's split or list file.

    Args:
        path: the file.
        what: names the file in errors, e.g. "RegDB split file".
    """
    if not os.path.isfile(path):
        raise DatasetError(f"missing {what} {path}")
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as err:
        raise DatasetError(f"{what} {path} cannot be read: {err}") from None


def read_id_line(path: str, what: str) -> list[int]:
    """Ids of a split file holding one line of comma-separated integers, sorted; each must be
    a non-negative integer, listed once (an id listed twice would count that person's queries
    twice).

    Args:
        path: the file (SYSU-MM01 exp/*_id.txt, LLCM idx/test_id.txt).
        what: names the file in errors, e.g. "SYSU-MM01 split file".
    """
    text = read_text(path, what).strip()
    tokens = [token.strip() for token in text.split(",") if token.strip()]
    wrong = next((token for token in tokens if not _ID.fullmatch(token)), None)
    if wrong is not None:
        raise DatasetError(
            f"{path}: expected one line of comma-separated integer ids (0 or more), got "
            f"{shown(wrong)}"
        )
    if not tokens:
        raise DatasetError(f"{path} lists no ids")
    counts = collections.Counter(int(token) for token in tokens)
    twice = sorted(pid for pid, count in counts.items() if count > 1)
    if twice:
        raise DatasetError(f"{path} lists id {twice[0]} more than once")
    return sorted(counts)


def images_per_camera(folders: dict[int, str], what: str) -> dict[int, list[str]]:
    """Sorted image names per camera whose folder exists; a folder without images is an error
    (a gallery draw from it would fail).

    Args:
        folders: {camera: one person's folder of that camera}.
        what: the data set's name for errors, e.g. "SYSU-MM01".
    """
    files = {}
    for camid, folder in folders.items():
        if optional_dir(folder, f"{what} folder"):
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
    """The lines of a `relative/path label` list, each image checked (`image_under`).

    Args:
        root: the data set root the paths are relative to.
        path: the list file.
        what: names the file in errors, e.g. "LLCM training list".

    Raises:
        DatasetError: one line naming the file (and line) of the first problem.
    """
    entries = [
        ListEntry(where, image_under(root, rel, where), label)
        for where, rel, label in list_lines(path, what)
    ]
    if not entries:
        raise DatasetError(f"{what} {path} lists no images")
    return entries


def list_lines(path: str, what: str, form: str = "relative/path label") -> list[ListEntry]:
    """The non-blank lines of a `relative/path label` list as they are written (the path not
    checked), for the readers of RegDB's and LLCM's lists.

    Args:
        path: the list file.
        what: names the file in errors, e.g. "RegDB split file".
        form: how a line should look, for the error on one that does not.
    """
    lines = read_text(path, what).splitlines()
    entries = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        where = f"{path} line {number}"
        parts = line.split()
        if len(parts) != 2:
            raise DatasetError(f"{where}: expected '{form}', got {shown(line)}")
        rel, label = parts
        try:
            label = int(label)
        except ValueError:
            raise DatasetError(f"{where}: label {shown(label)} is not an integer") from None
        entries.append(ListEntry(where, rel, label))
    return entries


def path_components(root: str, rel: str, where: str) -> list[str]:
    """The components of `rel`, after checking that it stays inside `root`."""
    components = rel.replace("\\", "/").split("/")
    if os.path.isabs(rel) or ".." in components:
        raise DatasetError(f"{where}: path {shown(rel)} points outside the root {root}")
    return components


def image_file(path: str, where: str) -> str:
    """`path`, after checking that the pipeline may open it (`file_problem`)."""
    problem = file_problem(path)
    if problem:
        raise DatasetError(f"{where}: image {path} {problem}")
    return path


def image_under(root: str, rel: str, where: str) -> str:
    """`root`/`rel` after checking that `rel` stays inside the root and names an image file."""
    path_components(root, rel, where)
    return image_file(os.path.join(root, rel), where)


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
