"""CMC, mAP and mINP of a query-gallery distance matrix under the SYSU-MM01, RegDB or LLCM rules.

The rules (docs/protocols.md) follow the SYSU-MM01 kit, the AGW Python port and the LLCM
authors' code. Work is vectorised over blocks of queries: each block's distances become uint32
bits that compare like the distances, one sort orders every row, and one search in the
flattened sorted block gives the rank of every true match. Where another image ties a true
match's distance, those rows are ranked again with the gallery index under the distance bits
(uint64), so ties go to the lower gallery index exactly as a stable sort puts them.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

PROTOCOLS = ("sysu", "regdb", "llcm", "cross_camera")
# Protocols whose CMC counts identities (each identity once, at its best kept image); RegDB's
# counts images.
_IDENTITY_CMC = ("sysu", "llcm", "cross_camera")

# SYSU-MM01: cameras 2 (RGB) and 3 (IR) film the same room, so camera-3 queries never see
# camera-2 gallery images, whatever their identity.
_SYSU_IR_CAMERA = 3
_SYSU_SAME_ROOM_RGB_CAMERA = 2

# Distances per block of queries: about 2**18 keep a block's keys in cache (fastest measured).
# Sorted keys get the row in block above their bits: row bits + 32 + gallery index bits stay
# within 64 because rows x num_g <= 2**18 (or the block is a single row).
_BLOCK_SIZE = 2**18
_REMOVED = np.uint32(0xFFFFFFFF)  # distance bits of a removed image: after every real distance


class _Gallery(NamedTuple):
    """Gallery columns grouped by identity, as every block of queries sees them."""

    index: np.ndarray  # uint64 [num_g] each column's index in the caller's gallery
    index_bits: int  # bits that hold any gallery index
    codes: np.ndarray  # int [num_g] each column's identity code
    camids: np.ndarray  # int [num_g]
    group_starts: np.ndarray  # int [num_identities] first column of each identity
    group_sizes: np.ndarray  # int [num_identities] its number of columns


def evaluate(
    distmat: np.ndarray,
    q_pids: np.ndarray,
    g_pids: np.ndarray,
    q_camids: np.ndarray,
    g_camids: np.ndarray,
    max_rank: int = 20,
    protocol: str = "sysu",
) -> dict:
    """Scores a ranking; smaller distance is closer, ties go to the lower gallery index.

    Queries with no true match left in their gallery are left out of every average.

    Args:
        distmat: float or int [num_q, num_g] query-to-gallery distances; float32 is fastest
            (values that float32 cannot hold exactly cost one more sort).
        q_pids: int [num_q] query identities.
        g_pids: int [num_g] gallery identities.
        q_camids: int [num_q] query cameras.
        g_camids: int [num_g] gallery cameras.
        max_rank: length of the CMC curve (cut to num_g when the gallery is smaller).
        protocol: "sysu" (camera-3 queries drop camera-2 gallery images), "llcm" (a query
            drops the gallery images of its own identity and camera), "cross_camera" (a query
            drops every gallery image of its own camera: the single-modality rule) or "regdb"
            (nothing removed). The CMC counts identities, except under "regdb" (images).

    Returns:
        {"cmc": float64 [min(max_rank, num_g)] fractions, "mAP": float, "mINP": float}.

    Raises:
        ValueError: on mismatched shapes, NaN distances, an unknown protocol, max_rank < 1,
            or when no query has a true match.
    """
    distmat, q_pids, g_pids, q_camids, g_camids = _check_inputs(
        distmat, q_pids, g_pids, q_camids, g_camids, max_rank, protocol
    )
    identities, g_codes = np.unique(g_pids, return_inverse=True)
    q_codes = _identity_codes(q_pids, identities)
    columns = np.argsort(g_codes, kind="stable")
    group_sizes = np.bincount(g_codes)
    gallery = _Gallery(
        index=columns.astype(np.uint64),
        index_bits=max(1, (len(g_pids) - 1).bit_length()),
        codes=g_codes[columns],
        camids=g_camids[columns],
        group_starts=np.cumsum(group_sizes) - group_sizes,
        group_sizes=group_sizes,
    )
    block = max(1, _BLOCK_SIZE // len(g_pids))
    scores = [
        _score_block(
            np.take(distmat[start : start + block], columns, axis=1),
            q_codes[start : start + block],
            q_camids[start : start + block],
            gallery,
            protocol,
        )
        for start in range(0, len(q_pids), block)
    ]
    first_rank, ap, inp = (np.concatenate(parts) for parts in zip(*scores, strict=True))
    valid = first_rank > 0
    if not valid.any():
        raise ValueError(
            f"no query has a true match in its gallery under protocol {protocol!r}: "
            "every query identity is missing from the (kept) gallery"
        )
    ranks = np.arange(1, min(max_rank, len(g_pids)) + 1)
    cmc = (first_rank[valid, None] <= ranks[None, :]).mean(axis=0)
    return {"cmc": cmc, "mAP": float(ap[valid].mean()), "mINP": float(inp[valid].mean())}


def _check_inputs(distmat, q_pids, g_pids, q_camids, g_camids, max_rank, protocol):
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if isinstance(max_rank, bool) or not isinstance(max_rank, int | np.integer) or max_rank < 1:
        raise ValueError(f"max_rank must be a positive integer, got {max_rank!r}")
    distmat = np.asarray(distmat)
    if distmat.ndim != 2 or distmat.shape[0] == 0 or distmat.shape[1] == 0:
        raise ValueError(
            f"distmat must be a non-empty 2-D [num_q, num_g] array, got {distmat.shape}"
        )
    if not (np.issubdtype(distmat.dtype, np.integer) or np.issubdtype(distmat.dtype, np.floating)):
        raise ValueError(f"distmat must hold real numbers, got dtype {distmat.dtype}")
    if np.isnan(distmat).any():
        raise ValueError("distmat contains NaN distances; a ranking needs comparable values")
    arrays = {"q_pids": q_pids, "g_pids": g_pids, "q_camids": q_camids, "g_camids": g_camids}
    expected = {"q_pids": 0, "g_pids": 1, "q_camids": 0, "g_camids": 1}
    checked = []
    for name, values in arrays.items():
        values = np.asarray(values)
        size = distmat.shape[expected[name]]
        if values.shape != (size,):
            raise ValueError(
                f"{name} must have shape ({size},) to match distmat {distmat.shape}, "
                f"got {values.shape}"
            )
        checked.append(values)
    return (distmat, *checked)


def _identity_codes(q_pids: np.ndarray, identities: np.ndarray) -> np.ndarray:
    """Index of each query identity in the sorted gallery identities, -1 when absent."""
    codes = np.searchsorted(identities, q_pids).clip(max=len(identities) - 1)
    return np.where(identities[codes] == q_pids, codes, -1)


def removed_pairs(protocol, q_pids, g_pids, q_camids, g_camids) -> np.ndarray | None:
    """bool [Q, G]: the (query, gallery) pairs `protocol` removes, or None when it removes none.

    SYSU-MM01: a camera-3 query never sees camera-2 images (cameras 2 and 3 film the same
    room), whatever their identity. LLCM: a query never sees images of its own identity from
    its own camera. cross_camera: a query never sees images from its own camera.
    """
    q_camids, g_camids = np.asarray(q_camids)[:, None], np.asarray(g_camids)[None, :]
    if protocol == "sysu":
        return (q_camids == _SYSU_IR_CAMERA) & (g_camids == _SYSU_SAME_ROOM_RGB_CAMERA)
    if protocol == "llcm":
        same_identity = np.asarray(q_pids)[:, None] == np.asarray(g_pids)[None, :]
        return same_identity & (q_camids == g_camids)
    if protocol == "cross_camera":
        return q_camids == g_camids
    return None


def _score_block(distances, q_codes, q_camids, gallery: _Gallery, protocol: str):
    """(first rank, AP, INP) of each query of a block; first rank 0 marks no true match.

    Args:
        distances: [rows, num_g] distances, columns in `gallery` order.
        q_codes: int [rows] identity codes (-1: not in the gallery).
        q_camids: int [rows] cameras.
        gallery: the gallery columns.
        protocol: one of PROTOCOLS.
    """
    bits = _order_preserving_bits(distances)
    query, column = _true_matches(q_codes, gallery)
    removed = removed_pairs(protocol, q_codes, gallery.codes, q_camids, gallery.camids)
    if removed is not None:
        bits[removed] = _REMOVED  # sorts after every kept image
        kept = ~removed[query, column]
        query, column = query[kept], column[kept]
    by_identity = gallery.group_starts if protocol in _IDENTITY_CMC else None
    match_rank, identity_rank, tied = _ranks(bits, 32, query, column, q_codes, by_identity)
    if tied.any():  # equal distances touch a true match: put the gallery index under them
        keys = np.left_shift(bits[tied], gallery.index_bits, dtype=np.uint64) | gallery.index
        redo = tied[query]
        row = np.cumsum(tied) - 1  # row of each tied row within `keys`
        key_bits = 32 + gallery.index_bits
        exact = _ranks(keys, key_bits, row[query[redo]], column[redo], q_codes[tied], by_identity)
        match_rank[redo] = exact[0]
        if by_identity is not None:
            identity_rank[tied] = exact[1]
    first_rank, ap, inp = _precision_scores(query, match_rank, len(distances))
    if by_identity is not None:
        first_rank = np.where(first_rank > 0, identity_rank, 0)
    return first_rank, ap, inp


def _true_matches(q_codes: np.ndarray, gallery: _Gallery):
    """(row, column) of every gallery image of each row's identity, row-major.

    The columns of an identity are one run, so this costs the number of matches, not
    rows x num_g.
    """
    has_identity = q_codes >= 0
    first = np.where(has_identity, gallery.group_starts[q_codes], 0)
    count = np.where(has_identity, gallery.group_sizes[q_codes], 0)
    row = np.repeat(np.arange(len(q_codes)), count)
    offset = np.arange(len(row)) - np.repeat(np.cumsum(count) - count, count)
    return row, first[row] + offset


def _ranks(keys, key_bits, query, column, q_codes, group_starts):
    """Kept rank of each true match, each row's identity rank, and the rows with ties.

    Args:
        keys: uint32 or uint64 [rows, num_g] sort keys; removed images hold the largest.
        key_bits: bits the keys use (the row number goes above them).
        query, column: int [num_matches] the kept true matches, row-major.
        q_codes: int [rows] identity codes.
        group_starts: first column of each identity, or None to skip identity ranks.

    Returns:
        int [num_matches] ranks; int [rows] identity ranks (one plus the identities whose
        best kept image beats the row's own best) or None; bool [rows] rows whose answer
        depends on how equal keys are ordered.
    """
    num_rows, num_g = keys.shape
    # Row numbers above the key bits make the flattened sorted block one sorted array.
    row_bits = np.arange(num_rows, dtype=np.uint64) << np.uint64(key_bits)
    ordered = (np.sort(keys, axis=1).astype(np.uint64) | row_bits[:, None]).ravel()
    needles = keys[query, column].astype(np.uint64) | row_bits[query]
    below = np.searchsorted(ordered, needles, side="left")
    equal = np.searchsorted(ordered, needles, side="right") - below
    tied = np.bincount(query[equal > 1], minlength=num_rows) > 0
    match_rank = below - query * num_g + 1
    if group_starts is None:
        return match_rank, None, tied
    best = np.minimum.reduceat(keys, group_starts, axis=1)
    own_best = best[np.arange(num_rows), q_codes]  # rows without a match are dropped later
    # An identity whose best equals the row's own best ties a true match: already in `tied`.
    identity_rank = (best < own_best[:, None]).sum(axis=1) + 1
    return match_rank, identity_rank, tied


def _order_preserving_bits(distances: np.ndarray) -> np.ndarray:
    """uint32 values that compare (<, ==) exactly as `distances` do within each row."""
    rounded = np.add(distances, 0.0, dtype=np.float32)  # also -0.0 -> 0.0: they compare equal
    if distances.dtype != np.float32 and not np.array_equal(rounded, distances):
        return _dense_ranks(distances)
    bits = rounded.view(np.uint32)
    # IEEE-754 bits order like the floats once negatives have every bit flipped and
    # non-negatives their sign bit set.
    flip = (bits.view(np.int32) >> 31).view(np.uint32) | np.uint32(0x80000000)
    return bits ^ flip


def _dense_ranks(distances: np.ndarray) -> np.ndarray:
    """uint32 rank of each distance among the distinct values of its row (0 = smallest)."""
    order = np.argsort(distances, axis=1)
    ranked = np.take_along_axis(distances, order, axis=1)
    dense = np.zeros(distances.shape, dtype=np.uint32)
    np.cumsum(ranked[:, 1:] != ranked[:, :-1], axis=1, out=dense[:, 1:])
    values = np.empty_like(dense)
    np.put_along_axis(values, order, dense, axis=1)
    return values


def _precision_scores(query: np.ndarray, match_rank: np.ndarray, num_rows: int):
    """Per-row rank of the first true match, AP (mean of j / rank_j) and INP.

    INP = number of true matches / rank of the last one; rows without a match get 0s.
    """
    order = np.lexsort((match_rank, query))
    query, match_rank = query[order], match_rank[order]
    num_matches = np.bincount(query, minlength=num_rows)
    row_start = np.cumsum(num_matches) - num_matches
    hits = np.arange(1, len(query) + 1) - row_start[query]  # j of the j-th match of its row
    has_match = num_matches > 0
    first_rank = np.zeros(num_rows, dtype=np.int64)
    ap = np.zeros(num_rows)
    inp = np.zeros(num_rows)
    first_rank[has_match] = match_rank[row_start[has_match]]
    precision_sum = np.bincount(query, weights=hits / match_rank, minlength=num_rows)
    ap[has_match] = precision_sum[has_match] / num_matches[has_match]
    last_rank = match_rank[row_start[has_match] + num_matches[has_match] - 1]
    inp[has_match] = num_matches[has_match] / last_rank
    return first_rank, ap, inp
