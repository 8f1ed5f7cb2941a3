"""An index on disk: a directory holding `images.sqlite` and one `vectors-<token>.faiss`.

SQLite holds the images (id, absolute path, modality, camera, person id) and the index's
facts: format version, the SavedModel it was built with (path and fingerprint), the vector
settings, which faiss file is current, and the calibrated "no match" threshold. Every change
is one SQLite transaction: the new vectors go to a new faiss file first, the transaction that
names it commits, and only then is the old file deleted. A kill at any moment therefore leaves
the index as it was before the change or as it is after, never between; a faiss file that no
committed state names is deleted by the next change. A new index is built in a staging
directory and renamed into place. Readers read the state and its faiss file inside one read
transaction, so that no change can commit (and delete that file) meanwhile.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import sqlite3
import uuid
from dataclasses import dataclass

import numpy as np

from tfreid.data.samples import Sample
from tfreid.errors import UsageError
from tfreid.files import staged
from tfreid.search import vectors
from tfreid.search.vectors import VectorSettings

FORMAT_VERSION = 1
DATABASE = "images.sqlite"
_SCHEMA = (
    "CREATE TABLE info (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    "CREATE TABLE images (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, "
    "modality INTEGER NOT NULL, camera INTEGER, pid INTEGER)",
)
_LOCK_TIMEOUT = 30.0  # seconds a change waits for another process's change to finish


@dataclass
class GalleryIndex:
    """An opened index: its facts, its images by id and its faiss vectors."""

    path: str
    info: dict
    images: dict[int, Sample]
    vectors: object  # a faiss IndexIDMap2 (tfreid.search.vectors)

    @property
    def settings(self) -> VectorSettings:
        return VectorSettings(**self.info["settings"])

    @property
    def threshold(self) -> float | None:
        return self.info["threshold"]


def is_index(path: str) -> bool:
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, DATABASE))


def check_new_index(path: str, overwrite: bool) -> None:
    """Fails unless `path` may receive a new index: a new path, an empty directory or (with
    `overwrite`) an index. Raises UsageError naming what is there."""
    if not os.path.lexists(path) or (os.path.isdir(path) and not os.listdir(path)):
        return
    if not is_index(path):
        raise UsageError(f"{path} exists and is not a search index; choose a new path")
    if not overwrite:
        raise UsageError(f"{path} already holds a search index; pass --overwrite to replace it")


def create_index(
    path: str, samples: list[Sample], embeddings: np.ndarray, model: dict, settings: VectorSettings
) -> GalleryIndex:
    """Writes a new index of `samples` (rows of `embeddings`) at `path`, replacing what
    `check_new_index` allowed. `model`: {"path": .., "fingerprint": ..}."""
    settings = settings.for_gallery(len(samples))
    ids = np.arange(1, len(samples) + 1, dtype=np.int64)
    index = vectors.build(settings, vectors.prepared(embeddings, settings.metric), ids)
    info = {
        "format_version": FORMAT_VERSION,
        "model": model,
        "settings": settings.as_dict(),
        "dim": int(embeddings.shape[1]),
        "threshold": None,
        "calibration": None,
    }
    with staged(path, directory=True) as staging:
        os.makedirs(staging)
        with contextlib.closing(sqlite3.connect(os.path.join(staging, DATABASE))) as db, db:
            for statement in _SCHEMA:
                db.execute(statement)
            _insert_images(db, ids, samples)
            _store(db, staging, index, info, [])
    return open_index(path)


def open_index(path: str) -> GalleryIndex:
    """The index at `path`.

    Raises:
        UsageError: not an index, or one of another format version.
    """
    with _connection(path) as db:
        db.execute("BEGIN")  # a read transaction: no change commits while the files are read
        index = _load(db, path)
        db.execute("COMMIT")
    return index


def add_images(path: str, samples: list[Sample], embeddings: np.ndarray) -> int:
    """Adds the images of `samples` (rows of `embeddings`) whose paths the index does not
    hold yet; returns how many were added."""
    with _change(path) as change:
        held = {image.path for image in change.current.images.values()}
        new = [i for i, s in enumerate(samples) if os.path.abspath(s.path) not in held]
        if not new:
            return 0
        start = max(change.current.images, default=0) + 1
        ids = np.arange(start, start + len(new), dtype=np.int64)
        metric = change.current.settings.metric
        added = vectors.prepared(embeddings[new], metric)
        _insert_images(change.db, ids, [samples[i] for i in new])
        change.store(vectors.extended(change.current.vectors, added, ids))
    return len(new)


def remove_images(path: str, paths: list[str]) -> int:
    """Removes the images at `paths` or under them (folders); returns how many.

    Raises:
        UsageError: a path under which the index holds no image.
    """
    with _change(path) as change:
        remove = set()
        for given in paths:
            found = _ids_under(change.current, os.path.abspath(given))
            if not found:
                raise UsageError(f"the index holds no image at or under {given}")
            remove |= found
        change.db.executemany("DELETE FROM images WHERE id = ?", [(int(i),) for i in remove])
        change.store(vectors.without(change.current.vectors, remove))
    return len(remove)


def update_info(path: str, **updates) -> None:
    """Stores `updates` (e.g. threshold, calibration) with the index."""
    with _change(path) as change:
        change.info.update(updates)
        change.store(None)


def _ids_under(index: GalleryIndex, path: str) -> set[int]:
    prefix = path.rstrip(os.sep) + os.sep
    return {i for i, s in index.images.items() if s.path == path or s.path.startswith(prefix)}


class _Change:
    """The state of an index inside a write transaction, and the new state to store."""

    def __init__(self, db: sqlite3.Connection, path: str):
        self.db, self.path = db, path
        self.current = _load(db, path)
        self.info = dict(self.current.info)
        self.written: list[str] = []

    def store(self, index) -> None:
        """Writes `index` (None: the vectors are unchanged) and the info into the change."""
        _store(self.db, self.path, index, self.info, self.written)


@contextlib.contextmanager
def _change(path: str):
    with _connection(path) as db:
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as err:
            raise OSError(f"index {path} is being changed by another process ({err})") from None
        change = None
        try:
            _remove_orphans(db, path)  # left by a change that was killed
            change = _Change(db, path)
            yield change
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            for name in change.written if change else []:
                _remove_quietly(os.path.join(path, name))
            raise
    if change.info["vectors_file"] != change.current.info["vectors_file"]:
        _remove_quietly(os.path.join(path, change.current.info["vectors_file"]))


def _store(db: sqlite3.Connection, directory: str, index, info: dict, written: list) -> None:
    """Writes `index` to a new faiss file (if given; its name goes to `written` first, so
    that a failed write can be cleaned up) and `info` naming it."""
    if index is not None:
        name = f"vectors-{uuid.uuid4().hex}.faiss"
        written.append(name)
        # On disk before the transaction that names it commits.
        vectors.write(index, os.path.join(directory, name))
        info["vectors_file"] = name
    db.execute("DELETE FROM info")
    db.executemany(
        "INSERT INTO info (key, value) VALUES (?, ?)",
        [(key, json.dumps(value)) for key, value in info.items()],
    )


def _insert_images(db: sqlite3.Connection, ids: np.ndarray, samples: list[Sample]) -> None:
    db.executemany(
        "INSERT INTO images (id, path, modality, camera, pid) VALUES (?, ?, ?, ?, ?)",
        [
            (int(i), os.path.abspath(s.path), int(s.modality), s.camid, s.pid)
            for i, s in zip(ids, samples, strict=True)
        ],
    )


def _load(db: sqlite3.Connection, path: str) -> GalleryIndex:
    info = _read_info(db, path)
    rows = db.execute("SELECT id, path, modality, camera, pid FROM images").fetchall()
    index = vectors.read(os.path.join(path, info["vectors_file"]))
    images = {row[0]: Sample(row[1], row[4], row[3], row[2]) for row in rows}
    return GalleryIndex(os.path.abspath(path), info, images, index)


def _read_info(db: sqlite3.Connection, path: str) -> dict:
    try:
        info = {key: json.loads(value) for key, value in db.execute("SELECT key, value FROM info")}
    except sqlite3.DatabaseError as err:
        raise OSError(f"index {path} cannot be read: {err}") from None
    version = info.get("format_version")
    if version != FORMAT_VERSION:
        raise UsageError(
            f"index {path} has format version {version}; this tfreid reads version "
            f"{FORMAT_VERSION}: build it again with `tools/search.py index`"
        )
    return info


@contextlib.contextmanager
def _connection(path: str):
    if not is_index(path):
        raise UsageError(f"{path} is not a search index (no {DATABASE}); build one with index")
    db = sqlite3.connect(os.path.join(path, DATABASE), timeout=_LOCK_TIMEOUT, isolation_level=None)
    try:
        yield db
    finally:
        db.close()


def _remove_orphans(db: sqlite3.Connection, path: str) -> None:
    current = _read_info(db, path)["vectors_file"]
    for name in glob.glob(os.path.join(path, "vectors-*.faiss")):
        if os.path.basename(name) != current:
            _remove_quietly(name)


def _remove_quietly(path: str) -> None:
    with contextlib.suppress(OSError):
        os.remove(path)
