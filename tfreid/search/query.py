"""Ranked matches of query embeddings against an index, with exact distances.

The index proposes candidates (`vectors.candidates`: exactly the nearest for an exact index,
approximately for HNSW and IVF); their distances are then computed from the stored vectors by
`tfreid.evaluation.features.distance`, the evaluation's own distance, and the candidates are
ranked by it (ties in id order). An exact index therefore returns what a brute-force search
over the same embeddings returns. A query is "no match" when its nearest candidate is farther
than the threshold: nobody in the gallery is that close, whatever the order re-ranking gives.

Re-ranking (k-reciprocal, `tfreid.evaluation.reranking.re_ranking`) needs the distances among
queries and among gallery images; it runs on the union of the queries' `candidates` nearest
images (the whole gallery when it is that small), so it costs two dense matrices of (queries +
union) squared float32 values, and is refused beyond `MAX_RERANK_IMAGES` of them.
"""

from __future__ import annotations

import numpy as np

from tfreid.errors import UsageError
from tfreid.evaluation.features import distance
from tfreid.evaluation.reranking import re_ranking
from tfreid.search import vectors
from tfreid.search.store import GalleryIndex

CANDIDATE_MARGIN = 16  # extra candidates fetched, so that re-sorting by the exact distance
# cannot push the K-th true neighbour out at float32 ties
MAX_RERANK_IMAGES = 20000  # queries + union: two 20000^2 float32 matrices are 3.2 GB


def ranked(index: GalleryIndex, queries: np.ndarray, top_k: int) -> list[dict]:
    """Per query: {"ids": int64 [K], "distances": float64 [K]} in ascending distance."""
    metric = index.settings.metric
    found = vectors.candidates(
        index.vectors, vectors.prepared(queries, metric), top_k + CANDIDATE_MARGIN
    )
    results = []
    for query, ids in zip(queries, found, strict=True):
        ids = np.sort(ids[ids >= 0])  # id order first, so ties keep it
        dist = distance(query[None], vectors.vectors_of(index.vectors, ids), metric)[0]
        order = np.argsort(dist, kind="stable")[:top_k]
        results.append({"ids": ids[order], "distances": dist[order]})
    return results


def reranked(index: GalleryIndex, queries: np.ndarray, top_k: int, candidates: int) -> list:
    """Per query: {"ids", "distances", "reranked": float64 [K], "nearest": the smallest
    distance} in ascending re-ranked distance, over the union of every query's `candidates`
    nearest images."""
    nearest = ranked(index, queries, max(candidates, top_k))
    union = np.unique(np.concatenate([result["ids"] for result in nearest]))
    if len(queries) + len(union) > MAX_RERANK_IMAGES:
        raise UsageError(
            f"--rerank over {len(queries)} queries and {len(union)} candidate images exceeds "
            f"{MAX_RERANK_IMAGES} images (two dense matrices of their squared count); query "
            "fewer images at a time or lower --rerank-candidates"
        )
    metric = index.settings.metric
    gallery = vectors.vectors_of(index.vectors, union)
    q_g = distance(queries, gallery, metric)
    final = re_ranking(q_g, distance(queries, queries, metric), distance(gallery, gallery, metric))
    results = []
    for row, exact in enumerate(nearest):
        order = np.argsort(final[row], kind="stable")[:top_k]
        results.append(
            {
                "ids": union[order],
                "distances": q_g[row, order],
                "reranked": final[row, order].astype(np.float64),
                "nearest": exact["distances"][0],
            }
        )
    return results


def entries(
    index: GalleryIndex, query_paths: list[str], results: list[dict], threshold: float | None
) -> list[dict]:
    """The JSON entries: {"query", "matches": [{"path", "distance", "id"[, "reranked_distance"]}],
    "no_match"}; `no_match` is the nearest distance above `threshold` (False without one)."""
    out = []
    for path, result in zip(query_paths, results, strict=True):
        matches = [
            {
                "path": index.images[int(i)].path,
                "distance": float(d),
                "id": index.images[int(i)].pid,
            }
            for i, d in zip(result["ids"], result["distances"], strict=True)
        ]
        for match, value in zip(matches, result.get("reranked", ()), strict=False):
            match["reranked_distance"] = float(value)
        nearest = result.get("nearest", result["distances"][0])
        out.append(
            {
                "query": path,
                "matches": matches,
                "no_match": bool(threshold is not None and nearest > threshold),
            }
        )
    return out
