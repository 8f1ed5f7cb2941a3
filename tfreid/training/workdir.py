"""A work dir belongs to one run at a time, and a run writes only into a work dir of its own.

Ours is a directory holding the MARKER file (written when a run creates the directory or takes
an empty one), or the layout of an earlier tfreid version (a tfreid `config.yaml` and
`checkpoints/ckpt-N.index`), which is marked on first use. Anything else is refused before a
file is written. While a run lasts its process holds an exclusive lock (`fcntl.flock`) on the
LOCK file, which names the holder; a second run on the same work dir stops at once. Under a
multi-worker strategy only the chief marks and locks: the other workers share the work dir by
design. Nothing here imports TensorFlow.
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import glob
import os
import socket
import sys
import time

from tfreid.config import Config, ConfigError
from tfreid.errors import UsageError, WorkDirBusy
from tfreid.files import check_writable
from tfreid.typed_yaml import read_yaml

MARKER = ".tfreid-workdir"
LOCK = ".tfreid-lock"


@contextlib.contextmanager
def claimed(workdir: str, chief: bool = True):
    """Holds `workdir` for the run inside the block: refused unless ours, then (on the chief)
    created if missing, marked and locked. A work dir this call created is removed again when
    the block raises before writing anything into it (bad data found by the checks up front).

    Raises:
        UsageError: `workdir` is a directory that is not ours, or not a directory.
        WorkDirBusy: another process holds its lock (naming it).
        OSError: it cannot be written.
    """
    earlier = require_ours(workdir)
    if not chief:
        yield
        return
    check_writable(workdir, "work dir", directory=True)
    created = not os.path.lexists(workdir)
    os.makedirs(workdir, exist_ok=True)
    if _mark(workdir) and earlier:
        print(f"marked {workdir}, a work dir of an earlier tfreid version, as a tfreid work dir")
    try:
        with _locked(workdir):
            yield
    except BaseException:
        if created:
            _remove_if_unused(workdir)
        raise


def _remove_if_unused(workdir: str) -> None:
    """Removes `workdir` if it holds nothing but the marker and the lock."""
    names = set(os.listdir(workdir))
    if names <= {MARKER, LOCK}:
        for name in names:
            os.remove(os.path.join(workdir, name))
        os.rmdir(workdir)


def require_ours(workdir: str) -> bool:
    """Raises UsageError unless `workdir` is missing, empty, marked, or an earlier version's
    work dir (returns True for the last: `claimed` marks it)."""
    if not os.path.lexists(workdir):
        return False
    if not os.path.isdir(workdir):
        raise UsageError(f"work dir {workdir} exists and is not a directory")
    if os.path.lexists(os.path.join(workdir, MARKER)) or not os.listdir(workdir):
        return False
    if _earlier_layout(workdir):
        return True
    raise UsageError(
        f"work dir {workdir} is not empty and was not made by tfreid (no {MARKER} file); "
        "choose a new or empty directory (a tfreid work dir of an earlier version that is not "
        f"recognised is taken by creating an empty {MARKER} file in it)"
    )


def _earlier_layout(workdir: str) -> bool:
    """Whether `workdir` holds what tfreid wrote before the marker existed: checkpoints named
    ckpt-N and a config.yaml whose sections are a tfreid config's."""
    if not glob.glob(os.path.join(glob.escape(workdir), "checkpoints", "ckpt-*.index")):
        return False
    try:
        values = read_yaml(os.path.join(workdir, "config.yaml"))
    except ConfigError:
        return False
    return bool(values) and set(values) <= {f.name for f in dataclasses.fields(Config)}


def _mark(workdir: str) -> bool:
    """Writes the marker unless it is there; whether it was written."""
    try:
        descriptor = os.open(
            os.path.join(workdir, MARKER), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666
        )
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "w") as f:
        f.write("a tfreid work dir: tools/train.py writes here (docs/reliability.md)\n")
    return True


@contextlib.contextmanager
def _locked(workdir: str):
    """Holds an exclusive lock on WORKDIR/LOCK (released when the process ends, however)."""
    path = os.path.join(workdir, LOCK)
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    with os.fdopen(descriptor, "r+") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = f.read(200).strip() or "a process that has not written its name yet"
            raise WorkDirBusy(
                f"work dir {workdir} is in use by another run ({holder}); wait for it to end "
                "or choose another --workdir"
            ) from None
        except OSError as err:  # a file system without locks (some network mounts)
            if err.errno not in (errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS):
                raise
            print(
                f"warning: cannot lock {path} ({err.strerror}); make sure no other run uses "
                f"{workdir}",
                file=sys.stderr,
            )
        f.truncate(0)
        started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
        f.write(f"pid {os.getpid()} on {socket.gethostname()}, started {started}\n")
        f.flush()
        yield
