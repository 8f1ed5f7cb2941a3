"""Times `tfreid.evaluation.metrics.evaluate` against the slow per-query reference.

Real SYSU-MM01 test sizes: 3803 infrared queries (cameras 3 and 6) of 96 identities against a
single-shot gallery of 301 images or a multi-shot gallery of 3010 (cameras 1, 2, 4, 5; not
every identity has every camera). Embeddings are random (identity centres plus noise), so the
scores only look like real ones; both implementations must agree on them exactly.

    python benchmarks/eval_protocol.py --repeats 3
"""

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

# The reference lives with the tests, which own it; see tests/evaluation/reference_metrics.py.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from evaluation.reference_metrics import reference_evaluate  # noqa: E402

from tfreid.cli import positive_int  # noqa: E402
from tfreid.evaluation.metrics import evaluate  # noqa: E402

NUM_IDS = 96
NUM_QUERIES = 3803
GALLERY_CAMERAS = (1, 2, 4, 5)
NUM_IDENTITY_CAMERAS = 301  # (identity, gallery camera) pairs with images on the real set
NOISE = 2.3  # per-image noise around identity centres: single-shot rank-1 near 50%, as in papers


def sysu_layout(shots: int, rng: np.random.Generator):
    """pids and camids of queries and gallery laid out like the real SYSU-MM01 test set."""
    pairs = [(pid, cam) for pid in range(NUM_IDS) for cam in GALLERY_CAMERAS]
    kept = np.sort(rng.choice(len(pairs), NUM_IDENTITY_CAMERAS, replace=False))
    g_pids = np.repeat([pairs[i][0] for i in kept], shots)
    g_cams = np.repeat([pairs[i][1] for i in kept], shots)
    q_pids = np.sort(rng.integers(0, NUM_IDS, NUM_QUERIES))
    q_cams = rng.choice([3, 6], NUM_QUERIES)
    return q_pids, g_pids, q_cams, g_cams


def random_distances(q_pids, g_pids, rng: np.random.Generator, dim: int = 256) -> np.ndarray:
    """float32 Euclidean distances between noisy copies of per-identity centres."""
    centres = rng.normal(size=(NUM_IDS, dim)).astype(np.float32)
    queries = centres[q_pids] + NOISE * rng.normal(size=(len(q_pids), dim)).astype(np.float32)
    gallery = centres[g_pids] + NOISE * rng.normal(size=(len(g_pids), dim)).astype(np.float32)
    squared = (queries**2).sum(1)[:, None] + (gallery**2).sum(1)[None, :] - 2 * queries @ gallery.T
    return np.sqrt(np.maximum(squared, 0.0))


def best_time(function, repeats: int):
    """(smallest wall time over `repeats` calls, the last result)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        times.append(time.perf_counter() - start)
    return min(times), result


def run_case(name: str, shots: int, repeats: int, seed: int) -> bool:
    rng = np.random.default_rng(seed)
    q_pids, g_pids, q_cams, g_cams = sysu_layout(shots, rng)
    distmat = random_distances(q_pids, g_pids, rng)
    args = (distmat, q_pids, g_pids, q_cams, g_cams)
    fast_time, fast = best_time(lambda: evaluate(*args, protocol="sysu"), repeats)
    slow_time, slow = best_time(lambda: reference_evaluate(*args, protocol="sysu"), repeats)
    same = (
        np.allclose(fast["cmc"], slow["cmc"], rtol=0, atol=1e-12)
        and np.isclose(fast["mAP"], slow["mAP"], rtol=0, atol=1e-12)
        and np.isclose(fast["mINP"], slow["mINP"], rtol=0, atol=1e-12)
    )
    difference = max(
        np.abs(fast["cmc"] - slow["cmc"]).max(),
        abs(fast["mAP"] - slow["mAP"]),
        abs(fast["mINP"] - slow["mINP"]),
    )
    print(
        f"{name:<12} {distmat.shape[0]}x{distmat.shape[1]:<5} "
        f"evaluate {fast_time:7.3f} s  reference {slow_time:7.3f} s  "
        f"speed-up {slow_time / fast_time:6.1f}x  "
        f"R1 {fast['cmc'][0]:.4f} mAP {fast['mAP']:.4f} mINP {fast['mINP']:.4f}  "
        f"max |diff| {difference:.1e} {'identical' if same else 'MISMATCH'}"
    )
    return same


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--repeats", type=positive_int, default=3, help="calls per timing (best is kept)"
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the layout and embeddings")
    args = parser.parse_args()
    print(f"NumPy {np.__version__}, {os.cpu_count()} CPUs, best of {args.repeats}")
    same = [
        run_case("single-shot", 1, args.repeats, args.seed),
        run_case("multi-shot", 10, args.repeats, args.seed),
    ]
    return 0 if all(same) else 1


if __name__ == "__main__":
    sys.exit(main())
