"""k-reciprocal re-ranking (Zhong et al., "Re-ranking Person Re-identification with k-reciprocal
Encoding", CVPR 2017), with the choices of the NumPy version the field uses (docs/design.md).

Memory stays near two dense [N, N] float32 matrices (N = num_q + num_g): the neighbour sets,
their weights and the query expansion are sparse, only the first k1 + 1 neighbours of each image
are kept, and the Jaccard distance is summed over shared non-zero weights, a block of queries at a
time.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

_SORT_CHUNK = 512  # rows sorted at once: bounds the [chunk, N] uint64 keys
_JACCARD_CHUNK = 256  # queries at once: bounds the [chunk, num_g] sums and their pair lists


def re_ranking(
    q_g_dist: np.ndarray,
    q_q_dist: np.ndarray,
    g_g_dist: np.ndarray,
    k1: int = 20,
    k2: int = 6,
    lambda_value: float = 0.3,
) -> np.ndarray:
    """Re-ranked query-gallery distance: (1 - lambda) * Jaccard + lambda * original.

    Args:
        q_g_dist: float [num_q, num_g] query-gallery distances (smaller is closer).
        q_q_dist: float [num_q, num_q] query-query distances.
        g_g_dist: float [num_g, num_g] gallery-gallery distances.
        k1: size of the k-reciprocal neighbour sets (their expansion uses round(k1 / 2)).
        k2: neighbours averaged by the local query expansion (1 turns it off).
        lambda_value: weight of the original (squared, normalised) distance, in [0, 1].

    Returns:
        float32 [num_q, num_g] re-ranked distances, in [0, 1] up to float32 rounding.

    Raises:
        ValueError: on mismatched shapes, negative or non-finite distances, an image whose
            distances to all images are zero, or k1, k2, lambda_value out of range.
    """
    q_g_dist, q_q_dist, g_g_dist = _check_inputs(q_g_dist, q_q_dist, g_g_dist, k1, k2, lambda_value)
    num_q = q_g_dist.shape[0]
    dist = _normalised_squared_distances(q_g_dist, q_q_dist, g_g_dist)
    neighbours = _nearest_neighbours(dist, max(k1 + 1, k2))
    weights = _k_reciprocal_weights(dist, neighbours, k1)
    if k2 != 1:
        weights = _local_query_expansion(weights, neighbours[:, :k2])
    final = _jaccard_distance(weights, num_q)
    final *= 1 - lambda_value
    final += lambda_value * dist[:num_q, num_q:]
    return final


def _check_inputs(q_g_dist, q_q_dist, g_g_dist, k1, k2, lambda_value):
    arrays = {"q_g_dist": q_g_dist, "q_q_dist": q_q_dist, "g_g_dist": g_g_dist}
    for name, values in arrays.items():
        values = arrays[name] = np.asarray(values)
        if values.ndim != 2 or values.size == 0:
            raise ValueError(f"{name} must be a non-empty 2-D array, got shape {values.shape}")
        if not np.issubdtype(values.dtype, np.number):
            raise ValueError(f"{name} must be numeric, got dtype {values.dtype}")
        if not np.all(np.isfinite(values)) or (values < 0).any():
            raise ValueError(f"{name} must hold finite, non-negative distances")
    num_q, num_g = q_g_dist.shape
    for name, expected in (("q_q_dist", (num_q, num_q)), ("g_g_dist", (num_g, num_g))):
        if arrays[name].shape != expected:
            raise ValueError(
                f"{name} must have shape {expected} to match q_g_dist {q_g_dist.shape}, "
                f"got {arrays[name].shape}"
            )
    for name, value in (("k1", k1), ("k2", k2)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not 0.0 <= lambda_value <= 1.0:
        raise ValueError(f"lambda_value must be in [0, 1], got {lambda_value!r}")
    return arrays["q_g_dist"], arrays["q_q_dist"], arrays["g_g_dist"]


def _normalised_squared_distances(q_g_dist, q_q_dist, g_g_dist) -> np.ndarray:
    """float32 [N, N]: row i = squared distances from every image to image i over their max.

    The reference code squares the stacked [[q_q, q_g], [q_g^T, g_g]] matrix, divides each
    column by its maximum and transposes; this builds that transpose directly (for symmetric
    inputs it is the row-normalised matrix).
    """
    num_q, num_g = q_g_dist.shape
    dist = np.empty((num_q + num_g, num_q + num_g), dtype=np.float32)
    dist[:num_q, :num_q] = np.square(q_q_dist.T)
    dist[:num_q, num_q:] = np.square(q_g_dist)
    dist[num_q:, :num_q] = np.square(q_g_dist.T)
    dist[num_q:, num_q:] = np.square(g_g_dist.T)
    maxima = dist.max(axis=1, keepdims=True)
    if (maxima == 0).any():
        image = int(np.flatnonzero(maxima == 0)[0])
        raise ValueError(f"image {image} (queries first) is at distance 0 from every image")
    dist /= maxima
    return dist


def _nearest_neighbours(dist: np.ndarray, count: int) -> np.ndarray:
    """int [N, min(count, N)]: each row's nearest images, ties in ascending index.

    Non-negative float32 values order like their bit patterns, so a uint64 key (bits, then
    column index) is unique per entry and sorts like a stable sort; partitioning first leaves
    only `count` keys per row to sort.
    """
    num = len(dist)
    count = min(count, num)
    neighbours = np.empty((num, count), dtype=np.int64)
    for start in range(0, num, _SORT_CHUNK):
        keys = dist[start : start + _SORT_CHUNK].view(np.uint32).astype(np.uint64)
        keys <<= np.uint64(32)
        keys |= np.arange(num, dtype=np.uint64)
        if count < num:
            keys = np.partition(keys, count - 1, axis=1)[:, :count]
        keys.sort(axis=1)
        neighbours[start : start + _SORT_CHUNK] = keys & np.uint64(0xFFFFFFFF)
    return neighbours


def _reciprocal_sets(neighbours: np.ndarray, k: int) -> sparse.csr_array:
    """0/1 int32 [N, N]: (i, j) set when each of i and j is among the other's k + 1 nearest."""
    num = len(neighbours)
    nearest = neighbours[:, : k + 1]
    width = nearest.shape[1]
    forward = sparse.csr_array(
        (
            np.ones(nearest.size, dtype=np.int32),
            nearest.ravel(),
            np.arange(0, num * width + 1, width),
        ),
        shape=(num, num),
    )
    return forward.multiply(forward.T).tocsr()


def _k_reciprocal_weights(dist, neighbours, k1) -> sparse.csr_array:
    """float32 [N, N]: exp(-d) over each image's expanded k-reciprocal set, rows summing to 1.

    A member c of i's k1-reciprocal set R(i) brings in its own round(k1 / 2)-reciprocal set
    H(c) when strictly more than 2/3 of H(c) already lies in R(i), as docs/design.md and the NumPy
    version the field uses have it.
    """
    core = _reciprocal_sets(neighbours, k1)
    half = _reciprocal_sets(neighbours, int(np.around(k1 / 2)))
    # overlap[i, c] = |R(i) & H(c)|, kept for c in R(i) only.
    overlap = (core @ half.T).multiply(core).tocoo()
    half_sizes = half.sum(axis=1)
    joins = overlap.data > 2.0 / 3.0 * half_sizes[overlap.col]
    joined = sparse.csr_array(
        (np.ones(joins.sum(), dtype=np.int32), (overlap.row[joins], overlap.col[joins])),
        shape=core.shape,
    )
    expanded = (core + joined @ half).tocoo()
    weight = np.exp(-dist[expanded.row, expanded.col])
    weight /= np.bincount(expanded.row, weights=weight, minlength=len(dist))[expanded.row]
    return sparse.csr_array(
        (weight.astype(np.float32), (expanded.row, expanded.col)), shape=core.shape
    )


def _local_query_expansion(weights, nearest) -> sparse.csr_array:
    """Each row replaced by the mean of the rows of its len(nearest[i]) nearest images."""
    num, width = nearest.shape
    averaging = sparse.csr_array(
        (
            np.full(nearest.size, 1.0 / width, dtype=np.float32),
            nearest.ravel(),
            np.arange(0, num * width + 1, width),
        ),
        shape=(num, num),
    )
    return (averaging @ weights).tocsr()


def _jaccard_distance(weights, num_q) -> np.ndarray:
    """float32 [num_q, num_g]: 1 - |V_q & V_g| / |V_q | V_g| with min/max as the set ops.

    Rows of weights sum to 1, so |V_q | V_g| = 2 - |V_q & V_g|. |V_q & V_g| = sum over images
    k of min(V_q[k], V_g[k]) gets a term only where both are non-zero, so it is accumulated
    from the pairs of non-zeros that share a column, a block of queries at a time.
    """
    num_g = weights.shape[0] - num_q
    gallery = weights[num_q:].tocsc()
    jaccard = np.empty((num_q, num_g), dtype=np.float32)
    for start in range(0, num_q, _JACCARD_CHUNK):
        block = weights[start : min(start + _JACCARD_CHUNK, num_q)].tocoo()
        # Pair every query non-zero (row, column k) with every gallery non-zero of column k.
        counts = np.diff(gallery.indptr)[block.col]
        query_entry = np.repeat(np.arange(block.nnz), counts)
        first_of_run = np.repeat(np.cumsum(counts) - counts, counts)
        gallery_entry = gallery.indptr[block.col][query_entry] + (
            np.arange(len(query_entry)) - first_of_run
        )
        overlap = np.bincount(
            block.row[query_entry] * num_g + gallery.indices[gallery_entry],
            weights=np.minimum(block.data[query_entry], gallery.data[gallery_entry]),
            minlength=block.shape[0] * num_g,
        ).reshape(block.shape[0], num_g)
        jaccard[start : start + _JACCARD_CHUNK] = 1.0 - overlap / (2.0 - overlap)
    return jaccard
