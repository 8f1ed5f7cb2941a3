"""Gallery search speed: faiss's exact and approximate indexes against NumPy brute force.

For galleries of unit vectors at tfreid's embedding sizes (512: the quickstart's BN neck;
2048: ResNet-50's pooled feature), the script measures index build time and memory,
queries per second (queries searched in batches of --batch) and the agreement of each search
with the exact top-10:

- numpy: float32 matrix product and `argpartition` (a good brute force);
- numpy float64: `tfreid.evaluation.features.distance` and a full argsort (the evaluation's
  brute force), on fewer queries;
- exact: faiss `IndexFlatIP` (what `tools/search.py index` builds by default);
- hnsw / ivf: faiss `IndexHNSWFlat` (M 32) / `IndexIVFFlat` (4 sqrt(N) cells), at several
  search widths (efSearch / nprobe): recall@10 against the exact index.

--data uniform draws independent random unit vectors (the worst case for an approximate
index: every vector is about as far from a query as every other); --data clustered draws
identities of 10 images each around random centres (cosine 0.5 between two images of an
identity at the default --noise 1.0, ~0 between identities), queries being new images of
gallery identities, as a ReID gallery is. Results go
to stdout as a table (docs/search.md has the figures):

    python benchmarks/search.py --sizes 10000 100000 --dims 512 2048 --data clustered
"""

from __future__ import annotations

import argparse
import os
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--dims", type=int, nargs="+", default=[512, 2048])
    parser.add_argument("--data", choices=("uniform", "clustered"), default="clustered")
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=100, help="queries per search call")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--kinds", nargs="+", default=["hnsw", "ivf"], choices=("hnsw", "ivf"))
    parser.add_argument("--max-gb", type=float, default=12.0, help="skip larger galleries")
    parser.add_argument("--hnsw-m", type=int, default=32, help="hnsw: links per vector")
    parser.add_argument(
        "--ef-construction", type=int, default=80, help="hnsw: candidates kept while building"
    )
    parser.add_argument(
        "--widths", type=int, nargs="+", default=[16, 32, 64, 128, 256],
        help="search widths measured (efSearch / nprobe)",
    )  # fmt: skip
    parser.add_argument(
        "--noise", type=float, default=1.0, help="clustered: noise norm over the centre's"
    )
    args = parser.parse_args()
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[name] = str(args.threads)  # before NumPy and faiss start their pools
    from tfreid.cli import set_verbosity

    set_verbosity(False)  # the float64 baseline imports TensorFlow: without its start-up lines
    import faiss

    faiss.omp_set_num_threads(args.threads)
    print(f"{args.data} unit vectors, {args.queries} queries in batches of {args.batch}, "
          f"{args.threads} threads, load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print("| N | dim | search | build s | memory MB | queries/s | top-10 = exact |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for dim in args.dims:
        for size in args.sizes:
            if size * dim * 4 * 2.5 / 1e9 > args.max_gb:
                print(f"| {size} | {dim} | skipped: above --max-gb {args.max_gb} | | | | |")
                continue
            run_size(size, dim, args)


def run_size(size: int, dim: int, args) -> None:
    import numpy as np

    gallery, queries = make_data(size, dim, args.queries, args.data, args.noise)
    truth, seconds = numpy_search(gallery, queries, args.batch)
    row(size, dim, "numpy float32", None, None, len(queries) / seconds, "reference")
    slow = queries[: max(10, len(queries) // 20)]
    seconds = float64_search(gallery, slow, truth[: len(slow)], args.batch)
    row(size, dim, "numpy float64 (evaluation)", None, None, len(slow) / seconds, "yes")
    exact, build, memory = timed_build(lambda: flat_index(gallery))
    found, seconds = faiss_search(exact, queries, args.batch)
    same = np.mean([set(a) == set(b) for a, b in zip(found, truth, strict=True)])
    row(size, dim, "faiss exact", build, memory, len(queries) / seconds, f"{same:.4f}")
    for kind in args.kinds:
        index, build, memory = timed_build(lambda k=kind: approximate_index(k, gallery, args))
        for width in args.widths:
            set_width(index, kind, width)
            found, seconds = faiss_search(index, queries, args.batch)
            recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, truth, strict=True)])
            label = f"faiss {kind} ({'efSearch' if kind == 'hnsw' else 'nprobe'} {width})"
            row(size, dim, label, build, memory, len(queries) / seconds, f"recall {recall:.4f}")
        del index


def row(size, dim, name, build, memory, qps, agreement) -> None:
    build = "" if build is None else f"{build:.1f}"
    memory = "" if memory is None else f"{memory:.0f}"
    rate = f"{qps:.0f}" if qps >= 100 else f"{qps:.3g}"
    print(f"| {size} | {dim} | {name} | {build} | {memory} | {rate} | {agreement} |", flush=True)


def make_data(size: int, dim: int, count: int, data: str, spread: float):
    """float32 unit vectors: the gallery [size, dim] and the queries [count, dim]."""
    import numpy as np

    rng = np.random.default_rng(0)
    if data == "uniform":
        gallery = rng.standard_normal((size, dim), dtype=np.float32)
        queries = rng.standard_normal((count, dim), dtype=np.float32)
    else:
        # 10 images per identity: a centre plus noise `spread` times its norm (cosine about
        # 1 / (1 + spread^2) between two images of one identity, 0.5 at the default 1.0);
        # queries: new images of random gallery identities.
        centres = rng.standard_normal((max(1, size // 10), dim), dtype=np.float32)
        centres /= np.linalg.norm(centres, axis=1, keepdims=True)
        noise = spread / np.sqrt(dim)
        gallery = centres[np.arange(size) % len(centres)]
        gallery += noise * rng.standard_normal((size, dim), dtype=np.float32)
        who = rng.integers(0, len(centres), count)
        queries = centres[who] + noise * rng.standard_normal((count, dim), dtype=np.float32)
    gallery /= np.linalg.norm(gallery, axis=1, keepdims=True)
    queries /= np.linalg.norm(queries, axis=1, keepdims=True)
    return gallery, queries


def numpy_search(gallery, queries, batch):
    """Top-10 by float32 inner product (argpartition, then the 10 sorted); (ids, seconds)."""
    import numpy as np

    start, found = time.perf_counter(), []
    for first in range(0, len(queries), batch):
        scores = queries[first : first + batch] @ gallery.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1, kind="stable")
        found.append(np.take_along_axis(top, order, axis=1))
    return np.concatenate(found), time.perf_counter() - start


def float64_search(gallery, queries, truth, batch) -> float:
    """The evaluation's brute force (float64 cosine distance, full argsort); seconds. Checks
    it finds the float32 top-10 (as sets: float32 may order near-ties differently)."""
    import numpy as np

    from tfreid.evaluation.features import distance

    start = time.perf_counter()
    for first in range(0, len(queries), max(1, batch // 10)):
        block = queries[first : first + max(1, batch // 10)]
        top = np.argsort(distance(block, gallery), axis=1, kind="stable")[:, :10]
        for row_ids, expected in zip(top, truth[first : first + len(block)], strict=True):
            assert len(set(row_ids) & set(expected)) >= 9, "float64 and float32 top-10 differ"
    return time.perf_counter() - start


def timed_build(make):
    """(index, seconds, resident memory growth in MB) of `make()`."""
    before = resident_mb()
    start = time.perf_counter()
    index = make()
    return index, time.perf_counter() - start, resident_mb() - before


def resident_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


def flat_index(gallery):
    import faiss

    index = faiss.IndexFlatIP(gallery.shape[1])
    index.add(gallery)
    return index


def approximate_index(kind: str, gallery, args):
    """The index `tools/search.py index --kind KIND` builds (tfreid.search.vectors), with
    HNSW's --hnsw-m and --ef-construction."""
    import numpy as np

    from tfreid.search.vectors import VectorSettings, build

    settings = VectorSettings(
        kind=kind, hnsw_m=args.hnsw_m, ef_construction=args.ef_construction
    ).for_gallery(len(gallery))
    return build(settings, gallery, np.arange(len(gallery), dtype=np.int64))


def set_width(index, kind: str, width: int) -> None:
    import faiss

    base = faiss.downcast_index(index.index)
    if kind == "hnsw":
        base.hnsw.efSearch = width
    else:
        base.nprobe = min(width, base.nlist)


def faiss_search(index, queries, batch):
    import numpy as np

    start, found = time.perf_counter(), []
    for first in range(0, len(queries), batch):
        found.append(index.search(queries[first : first + batch], 10)[1])
    return np.concatenate(found), time.perf_counter() - start


if __name__ == "__main__":
    main()
