"""Where a synthetic data set is written: the writers' argument checks and the directory that
appears only when the set is complete (shared by synthetic.py and synthetic_llcm.py)."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile

import numpy as np

MAX_IDS = 9999  # 4-digit SYSU folders, 5-digit RegDB image counters


def check_request(out_dir: str, num_ids, min_ids: int, seed, height, width) -> None:
    """Validates the arguments of a writer before anything is written."""
    for name, value, low, high in (
        ("num_ids", num_ids, min_ids, MAX_IDS),
        ("seed", seed, 0, 2**63),
        ("height", height, 16, 4096),
        ("width", width, 8, 4096),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    _check_free(out_dir)


def _check_free(out_dir: str) -> None:
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise FileExistsError(f"output directory {out_dir} exists and is not an empty directory")


@contextlib.contextmanager
def written_atomically(out_dir: str):
    """Yields a hidden sibling directory of `out_dir` to write into, renamed to `out_dir` once
    the block completes and removed if it raises (even on KeyboardInterrupt). So `out_dir` only
    ever holds a complete set; a killed process leaves at most the hidden `.NAME.incomplete-*`.
    """
    out_dir = os.path.abspath(out_dir)
    parent, name = os.path.split(out_dir)
    os.makedirs(parent, exist_ok=True)
    partial = tempfile.mkdtemp(prefix=f".{name}.incomplete-", dir=parent)
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(partial, 0o777 & ~umask)  # mkdtemp makes it private; a data set is not
        yield partial
        _check_free(out_dir)  # someone else may have written it meanwhile
        if os.path.isdir(out_dir):
            os.rmdir(out_dir)
        os.rename(partial, out_dir)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
