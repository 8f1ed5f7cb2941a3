"""Slow, per-query reference of the SYSU-MM01, RegDB and single-modality (cross_camera) rules
of docs/protocols.md, written for readability (LLCM's: reference_llcm.py).

Shared by tests/evaluation/test_metrics.py and benchmarks/eval_protocol.py, so both compare
`tfreid.evaluation.metrics.evaluate` against the same independent statement of the rules.
"""

import numpy as np


def reference_evaluate(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=20, protocol="sysu"):
    """Same contract as `evaluate`, one query at a time."""
    num_q, num_g = distmat.shape
    cmc_length = min(max_rank, num_g)
    cmc_rows, aps, inps = [], [], []
    for q in range(num_q):
        ranked = list(np.argsort(distmat[q], kind="stable"))  # ties: lower gallery index first
        if protocol == "sysu" and q_camids[q] == 3:
            ranked = [j for j in ranked if g_camids[j] != 2]
        if protocol == "cross_camera":  # single-modality: the query's own camera is left out
            ranked = [j for j in ranked if g_camids[j] != q_camids[q]]
        ranked_pids = [g_pids[j] for j in ranked]
        match_ranks = [r for r, pid in enumerate(ranked_pids, start=1) if pid == q_pids[q]]
        if not match_ranks:
            continue
        if protocol in ("sysu", "cross_camera"):
            first_rank = _first_occurrences(ranked_pids).index(q_pids[q]) + 1
        else:
            first_rank = match_ranks[0]
        cmc_rows.append([1.0 if first_rank <= k else 0.0 for k in range(1, cmc_length + 1)])
        aps.append(np.mean([j / rank for j, rank in enumerate(match_ranks, start=1)]))
        inps.append(len(match_ranks) / match_ranks[-1])
    if not aps:
        raise ValueError("no valid query")
    return {"cmc": np.mean(cmc_rows, axis=0), "mAP": np.mean(aps), "mINP": np.mean(inps)}


def _first_occurrences(pids):
    unique, seen = [], set()
    for pid in pids:
        if pid not in seen:
            seen.add(pid)
            unique.append(pid)
    return unique
