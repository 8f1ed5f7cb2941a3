"""The "no match" threshold, chosen on a labelled split at a target false-match rate.

On a labelled split (e.g. SYSU-MM01's val ids), every query is searched against a gallery of
the other modality, exhaustively, with the index's model:

- a *mated* search: the query's person is in the gallery. It is a hit at threshold T when its
  nearest image shows the query's person and lies within T.
- a *non-mated* search: the query's person is not in the gallery. Queries whose id the gallery
  lacks give one each, and every mated query gives one more, searched against the gallery
  without its own person's images (leave its id out), so a closed split still measures what
  "nobody" looks like. It is a false match when its nearest image lies within T.

hit rate = hits / mated searches; false-match rate = false matches / non-mated searches (the
FRVT 1:N terms: true- and false-positive identification rates at rank 1). The threshold is
the largest one whose false-match rate does not exceed the target: halfway between the
non-mated distance it must stay below and the largest one it may accept.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from tfreid.evaluation.features import distance

_CHUNK = 256  # queries per distance block: bounds memory at 256 x gallery float64


@dataclass
class Calibration:
    threshold: float
    target_false_match_rate: float
    hit_rate: float
    false_match_rate: float
    mated_searches: int
    non_mated_searches: int

    def as_dict(self) -> dict:
        return asdict(self)


def nearest_distances(
    queries: np.ndarray, q_pids: np.ndarray, gallery: np.ndarray, g_pids: np.ndarray, metric: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per query: (nearest distance, whether that image shows the query's person, nearest
    distance among the other persons' images (inf when the gallery holds nobody else))."""
    nearest, right, other = [], [], []
    for start in range(0, len(queries), _CHUNK):
        dist = distance(queries[start : start + _CHUNK], gallery, metric)
        pids = q_pids[start : start + _CHUNK, None]
        best = np.argmin(dist, axis=1)
        nearest.append(dist[np.arange(len(dist)), best])
        right.append(g_pids[best] == pids[:, 0])
        other.append(np.where(g_pids[None] == pids, np.inf, dist).min(axis=1))
    return np.concatenate(nearest), np.concatenate(right), np.concatenate(other)


def calibrate(
    queries: np.ndarray,
    q_pids: np.ndarray,
    gallery: np.ndarray,
    g_pids: np.ndarray,
    metric: str,
    target: float,
) -> Calibration:
    """The threshold at `target` false-match rate and the rates it gives (module docstring).

    Args:
        queries: float [Q, D] query embeddings; q_pids: int [Q] their ids.
        gallery: float [G, D] gallery embeddings; g_pids: int [G] their ids.
        metric: "cosine" or "euclidean".
        target: the false-match rate allowed, in [0, 1].

    Raises:
        ValueError: no non-mated search (the gallery holds only one person), or no threshold
            reaches the target (a non-mated search at distance 0).
    """
    nearest, right, other = nearest_distances(queries, q_pids, gallery, g_pids, metric)
    mated = np.isin(q_pids, g_pids)
    non_mated = np.concatenate([nearest[~mated], other[mated]])
    non_mated = non_mated[np.isfinite(non_mated)]
    if not len(non_mated):
        raise ValueError("calibration needs a gallery of at least two persons")
    threshold = choose_threshold(non_mated, target, upper=2.0 if metric == "cosine" else None)
    hits = mated & right & (nearest <= threshold)
    return Calibration(
        threshold=float(threshold),
        target_false_match_rate=target,
        hit_rate=float(hits.sum() / max(mated.sum(), 1)),
        false_match_rate=float((non_mated <= threshold).mean()),
        mated_searches=int(mated.sum()),
        non_mated_searches=len(non_mated),
    )


def choose_threshold(non_mated: np.ndarray, target: float, upper: float | None) -> float:
    """The largest threshold accepting at most `target` of the `non_mated` distances, halfway
    between the largest accepted and the smallest refused one; `upper` (or the largest
    distance) when all may be accepted."""
    ordered = np.sort(non_mated)
    allowed = math.floor(target * len(ordered) + 1e-9)
    if allowed >= len(ordered):
        return upper if upper is not None else float(ordered[-1])
    while allowed > 0 and ordered[allowed - 1] == ordered[allowed]:
        allowed -= 1  # tied distances are accepted or refused together
    if allowed == 0 and ordered[0] == 0:
        raise ValueError(
            "no threshold reaches the target false-match rate: a non-mated search has "
            "distance 0 (the same image under two ids?)"
        )
    low = float(ordered[allowed - 1]) if allowed else 0.0
    return (low + float(ordered[allowed])) / 2
