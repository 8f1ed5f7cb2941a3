"""Writing outputs safely: checked before the work, written atomically, with the user's umask.

Every file a tool writes goes to a temporary sibling first and is renamed into place when
complete, so an interrupted or failed write (a full disk) leaves the previous file, no partial
one and no temporary file behind. Temporary files are created owner-only; the finished output
gets the permissions the user's umask gives any new file.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable

RETIRED = ".retired-"  # the prefix of a replaced directory's old content, until it is deleted


def umask() -> int:
    """The process's umask (read by setting it and setting it back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def publish_mode(path: str, directory: bool = False) -> None:
    """Gives `path` the mode a new file (0666) or directory (0777) gets under the umask."""
    os.chmod(path, (0o777 if directory else 0o666) & ~umask())


def check_writable(path: str, what: str = "output", directory: bool = False) -> None:
    """Fails now, before any work, if `path` cannot be written as a file (or directory).

    Raises:
        IsADirectoryError / NotADirectoryError: `path` is the wrong kind of thing.
        PermissionError: the nearest existing folder on the way cannot be written.
    """
    path = os.path.abspath(path)
    if os.path.isdir(path) and not directory:
        raise IsADirectoryError(f"{what} {path} is a directory; give a file path")
    if os.path.lexists(path) and not os.path.isdir(path) and directory:
        raise NotADirectoryError(f"{what} {path} exists and is not a directory")
    existing = path if directory and os.path.isdir(path) else os.path.dirname(path)
    while not os.path.lexists(existing):
        existing = os.path.dirname(existing)
    if not os.path.isdir(existing):
        raise NotADirectoryError(f"cannot write {what} {path}: {existing} is not a directory")
    try:  # a real file, not os.access: root passes access() for /proc, a read-only mount...
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        raise PermissionError(
            f"cannot write {what} {path}: {existing} is not writable ({err.strerror or err})"
        ) from None


def atomic_write(path: str, write: Callable, binary: bool = False) -> None:
    """Calls `write(file)` on a temporary sibling of `path`, then renames it to `path`.

    Raises:
        OSError: naming `path`, when it cannot be written (the temporary file is removed).
    """
    directory = os.path.dirname(os.path.abspath(path))
    try:
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=directory
        )
    except OSError as err:
        raise _naming(err, path) from None
    try:
        with os.fdopen(handle, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            write(f)
        publish_mode(temporary)
        os.replace(temporary, path)
    except BaseException as err:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        if isinstance(err, OSError):
            raise _naming(err, path) from None
        raise


def replace_directory(staging: str, target: str) -> None:
    """Moves the complete directory `staging` to `target`, replacing what is there (which the
    caller has checked may be replaced); the old content is deleted only once the new one is
    in place (in a RETIRED directory meanwhile)."""
    publish_mode(staging, directory=True)
    if not os.path.lexists(target):
        os.replace(staging, target)
        return
    retired = owned_temp_dir(os.path.dirname(target), RETIRED)
    os.replace(target, os.path.join(retired, "old"))
    os.replace(staging, target)
    shutil.rmtree(retired, ignore_errors=True)


def owned_temp_dir(parent: str, prefix: str) -> str:
    """A new directory `parent`/PREFIX<host>-<pid>-XXXXXXXX: its name says which process made
    it, so that `remove_abandoned` tells one a killed process left from one still in use."""
    return tempfile.mkdtemp(prefix=f"{prefix}{socket.gethostname()}-{os.getpid()}-", dir=parent)


def remove_abandoned(parent: str, prefix: str) -> None:
    """Removes, naming each, the `owned_temp_dir(parent, prefix)` directories whose process
    no longer runs on this host (a kill -9 cannot clean up after itself); those of other
    hosts and of running processes are left alone."""
    pattern = re.compile(rf"{re.escape(prefix)}(.+)-(\d+)-[a-z0-9_]+")
    for name in os.listdir(parent):
        match = pattern.fullmatch(name)
        path = os.path.join(parent, name)
        if match and match[1] == socket.gethostname() and not _running(int(match[2])):
            shutil.rmtree(path, ignore_errors=True)
            print(f"removed {path}, left by an interrupted process")


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, as another user's process
        pass
    return True


@contextlib.contextmanager
def staged(path: str, directory: bool = False):
    """Yields a path, beside `path`, to write its new content to; when the block completes,
    that content replaces `path` (a directory through `replace_directory`), and when it raises,
    the content is removed and `path` is left as it was. For outputs checked after they are
    written and before they are published (an export compared with its model). What a killed
    process staged for `path`, or retired while replacing a directory, is removed first
    (`remove_abandoned`)."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    prefix = f".{os.path.basename(path)}.staging-"
    for abandoned in (prefix, RETIRED):
        remove_abandoned(parent, abandoned)
    holder = owned_temp_dir(parent, prefix)
    staging = os.path.join(holder, os.path.basename(path))
    try:
        yield staging
        if directory:
            replace_directory(staging, path)
        else:
            publish_mode(staging)
            os.replace(staging, path)
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def _naming(err: OSError, path: str) -> OSError:
    """`err` as the same kind of error, its message naming `path` (a full disk's ENOSPC
    does not name the file)."""
    named = type(err)(f"cannot write {path}: {err.strerror or err}")
    named.errno = err.errno
    return named
