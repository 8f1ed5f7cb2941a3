"""The faiss side of an index: building, growing, shrinking and searching the vectors.

Every index is an `IndexIDMap2` around the searching index, so faiss returns the SQLite ids of
the images (and reconstructs a vector by id): "exact" is `IndexFlatIP` (cosine: inner product
of L2-normalised embeddings) or `IndexFlatL2` (euclidean); "hnsw" is `IndexHNSWFlat` (a graph;
approximate); "ivf" is `IndexIVFFlat` (k-means cells, a few probed per query; approximate,
trained on a sample of the vectors it is built with). Search returns candidates only: the distances
reported are recomputed exactly from the stored vectors (`tfreid.search.query`).
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass, replace

import numpy as np

try:
    import faiss
except ImportError:
    raise ImportError("tools/search.py needs faiss-cpu: pip install 'tfreid[search]'") from None

KINDS = ("exact", "hnsw", "ivf")
_BLOCK = 65536  # rows normalised at once
TRAINING_PER_CELL = 64  # IVF's k-means sample: faiss asks for 39 to 256 vectors a cell
METRICS = ("cosine", "euclidean")


@dataclass
class VectorSettings:
    """How an index searches. hnsw_m, ef_construction, ef_search: HNSW's links per vector and
    candidate-list lengths when building and searching; nlist (None: 4 sqrt(N), at most N /
    39, faiss's training minimum) and nprobe: IVF's cells and the cells searched per query."""

    metric: str = "cosine"
    kind: str = "exact"
    hnsw_m: int = 32
    ef_construction: int = 80
    ef_search: int = 128
    nlist: int | None = None
    nprobe: int = 16

    def as_dict(self) -> dict:
        return asdict(self)

    def for_gallery(self, count: int) -> VectorSettings:
        """These settings with IVF's cells fixed for a gallery of `count` images.

        Raises:
            ValueError: fewer images than cells.
        """
        if self.kind != "ivf":
            return self
        nlist = self.nlist or max(1, min(round(4 * math.sqrt(count)), count // 39))
        if count < nlist:
            raise ValueError(
                f"an ivf index of {nlist} cells needs at least {nlist} images, got {count}"
            )
        return replace(self, nlist=nlist, nprobe=min(self.nprobe, nlist))


def prepared(embeddings: np.ndarray, metric: str) -> np.ndarray:
    """float32 [N, D] as stored: L2-normalised for "cosine" (norms in float64, a block of rows
    at a time, so a large gallery needs no float64 copy), as they are for "euclidean".

    Raises:
        ValueError: an all-zero embedding under "cosine" (its cosine is undefined).
    """
    vectors = np.array(embeddings, dtype=np.float32, order="C")
    if metric != "cosine":
        return vectors
    for start in range(0, len(vectors), _BLOCK):
        block = vectors[start : start + _BLOCK]
        norms = np.sqrt(np.einsum("ij,ij->i", block, block, dtype=np.float64))
        if (norms == 0).any():
            raise ValueError(f"embedding {start + int(np.flatnonzero(norms == 0)[0])} is all zeros")
        block /= norms[:, None].astype(np.float32)
    return vectors


def build(settings: VectorSettings, vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    """A new index of `settings.kind` holding `vectors` (prepared) under int64 `ids`;
    `settings` as `for_gallery` gives them."""
    dim = vectors.shape[1]
    metric = faiss.METRIC_INNER_PRODUCT if settings.metric == "cosine" else faiss.METRIC_L2
    if settings.kind == "exact":
        base = faiss.IndexFlatIP(dim) if settings.metric == "cosine" else faiss.IndexFlatL2(dim)
    elif settings.kind == "hnsw":
        base = faiss.IndexHNSWFlat(dim, settings.hnsw_m, metric)
        base.hnsw.efConstruction = settings.ef_construction
        base.hnsw.efSearch = settings.ef_search
    else:
        base = _trained_ivf(settings, vectors, metric)
    index = faiss.IndexIDMap2(base)
    index.add_with_ids(vectors, np.asarray(ids, np.int64))
    return index


def _trained_ivf(settings: VectorSettings, vectors: np.ndarray, metric) -> faiss.Index:
    """An empty IVF index whose `settings.nlist` cells are k-means centres of at most
    TRAINING_PER_CELL vectors a cell, a seeded sample of `vectors` (k-means over a million
    vectors costs far more than the centres gain from them)."""
    count, dim = vectors.shape
    quantizer = (
        faiss.IndexFlatIP(dim) if metric == faiss.METRIC_INNER_PRODUCT else faiss.IndexFlatL2(dim)
    )
    base = faiss.IndexIVFFlat(quantizer, dim, settings.nlist, metric)
    training, limit = vectors, TRAINING_PER_CELL * settings.nlist
    if count > limit:
        training = vectors[np.sort(np.random.default_rng(0).choice(count, limit, replace=False))]
    base.train(training)
    base.nprobe = settings.nprobe
    base.make_direct_map()  # reconstruction by id, for exact distances and rebuilding
    return base


def write(index: faiss.Index, path: str) -> None:
    """Writes `index` to `path` and waits until it is on disk."""
    faiss.write_index(index, path)
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def read(path: str) -> faiss.Index:
    return faiss.read_index(path)


def stored_ids(index: faiss.Index) -> np.ndarray:
    """int64 [N]: the ids the index holds, in its internal order."""
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def vectors_of(index: faiss.Index, ids: np.ndarray) -> np.ndarray:
    """float32 [len(ids), D]: the stored vectors of `ids`."""
    return index.reconstruct_batch(np.asarray(ids, np.int64))


def extended(index: faiss.Index, vectors: np.ndarray, ids: np.ndarray) -> faiss.Index:
    """A copy of `index` with `vectors` added under `ids` (an IVF index keeps its cells)."""
    copy = faiss.clone_index(index)
    copy.add_with_ids(vectors, np.asarray(ids, np.int64))
    return copy


def without(index: faiss.Index, remove: set[int]) -> faiss.Index:
    """A copy of `index` without the ids in `remove`, rebuilt from the vectors kept.

    Rebuilt rather than `remove_ids`: HNSW cannot remove, and an IVF index under an
    IndexIDMap2 loses the id mapping when it does.
    """
    ids = stored_ids(index)
    kept = ids[~np.isin(ids, np.fromiter(remove, np.int64, len(remove)))]
    vectors = vectors_of(index, kept)
    copy = faiss.clone_index(index)
    copy.reset()
    if len(kept):
        copy.add_with_ids(vectors, kept)
    return copy


def candidates(index: faiss.Index, queries: np.ndarray, count: int) -> np.ndarray:
    """int64 [Q, count]: each query's nearest stored ids as the index finds them (-1 pads an
    approximate index's short lists)."""
    _, found = index.search(np.ascontiguousarray(queries, np.float32), min(count, index.ntotal))
    return found
