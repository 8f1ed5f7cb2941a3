"""An independent port of the LLCM authors' test protocol, written for readability.

From the facts of their released test code (docs/protocols.md): the query set of a direction
is every test image of one modality (ids of idx/test_id.txt sorted as 4-digit folder names,
cameras in the fixed order, files sorted); the gallery draws one file per (id, camera) of the
other modality with Python's global `random` seeded by the trial; the score is a loop over
queries that drops gallery images of the query's own id and camera, ranks identities by their
first appearance (rank-k), and computes AP and INP over the kept images. Mode [2, 1]
(vis_to_ir) passes the drawn NIR images to the metric as the queries. Nothing here imports
tfreid, so tfreid's readers, draws and metrics are checked against it.
"""

import os
import random

import numpy as np

CAMERAS = {"vis": [f"test_vis/cam{c}" for c in range(1, 10)]}
CAMERAS["nir"] = [f"test_nir/cam{c}" for c in (1, 2, 4, 5, 6, 7, 8, 9)]


def _test_ids(root):
    with open(os.path.join(root, "idx", "test_id.txt")) as f:
        first_line = f.read().splitlines()[0]
    return sorted(f"{int(token):04d}" for token in first_line.split(","))


def _folders(root, modality):
    """(id folder, camera folder, sorted file names) per existing folder, in the code's order."""
    for pid in _test_ids(root):
        for camera in CAMERAS[modality]:
            folder = os.path.join(root, camera, pid)
            if os.path.isdir(folder):
                yield pid, camera, sorted(os.listdir(folder))


def _record(camera, pid, name):
    """(path relative to the root, pid, camera number) of one test file."""
    return f"{camera}/{pid}/{name}", int(pid), int(camera.split("cam")[1])


def queries(root, modality):
    """Every test image of `modality` ("vis" or "nir")."""
    return [_record(c, p, n) for p, c, names in _folders(root, modality) for n in names]


def gallery(root, modality, trial):
    """One random.choice per (id, camera) after random.seed(trial), as the authors draw."""
    random.seed(trial)
    return [_record(c, p, random.choice(names)) for p, c, names in _folders(root, modality)]


def eval_llcm(distmat, q_pids, g_pids, q_camids, g_camids, max_rank=20):
    """(rank-k fractions [<= max_rank], mAP, mINP), one query at a time."""
    cmc_rows, aps, inps = [], [], []
    for q in range(len(q_pids)):
        order = np.argsort(distmat[q], kind="stable")
        keep = ~((g_pids[order] == q_pids[q]) & (g_camids[order] == q_camids[q]))
        ranked = g_pids[order][keep]
        matches = (ranked == q_pids[q]).astype(int)
        if not matches.any():
            continue
        first_seen, seen = [], set()  # each identity once, where it first appears
        for pid in ranked:
            if pid not in seen:
                seen.add(pid)
                first_seen.append(pid)
        identity_rank = first_seen.index(q_pids[q]) + 1
        cmc_rows.append([float(identity_rank <= k) for k in range(1, max_rank + 1)])
        hits = np.cumsum(matches)
        positions = np.flatnonzero(matches)
        aps.append(np.mean(hits[positions] / (positions + 1.0)))
        inps.append(hits[positions[-1]] / (positions[-1] + 1.0))
    return np.mean(cmc_rows, axis=0), float(np.mean(aps)), float(np.mean(inps))


def protocol(root, embedding_of, direction, trials=10):
    """Per trial (rank-k, mAP, mINP) of "ir_to_vis" or "vis_to_ir".

    Args:
        root: the LLCM-layout tree.
        embedding_of: {path relative to the root: embedding}; the score is the inner
            product, as the authors' code scores (on L2-normalised embeddings it ranks as the
            cosine does).
        direction: "ir_to_vis" (mode [1, 2]) or "vis_to_ir" (mode [2, 1]).
        trials: gallery draws 0..trials-1.
    """
    query_modality, gallery_modality = (
        ("nir", "vis") if direction == "ir_to_vis" else ("vis", "nir")
    )
    q = queries(root, query_modality)
    results = []
    for trial in range(trials):
        g = gallery(root, gallery_modality, trial)
        q_feat = np.array([embedding_of[path] for path, _, _ in q], dtype=np.float64)
        g_feat = np.array([embedding_of[path] for path, _, _ in g], dtype=np.float64)
        q_ids, q_cams = np.array([r[1] for r in q]), np.array([r[2] for r in q])
        g_ids, g_cams = np.array([r[1] for r in g]), np.array([r[2] for r in g])
        if direction == "ir_to_vis":
            scored = eval_llcm(-(q_feat @ g_feat.T), q_ids, g_ids, q_cams, g_cams)
        else:  # their distmat is gallery x query, and the metric is called gallery first
            scored = eval_llcm(-(g_feat @ q_feat.T), g_ids, q_ids, g_cams, q_cams)
        results.append(scored)
    return results
