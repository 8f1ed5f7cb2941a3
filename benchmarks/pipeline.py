"""Images per second of the training input pipeline (decode, resize, augment, batch).

python benchmarks/pipeline.py                      # a synthetic SYSU set in a temp dir
python benchmarks/pipeline.py --root data/sysu     # an existing SYSU-MM01-layout dir
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfreid.config import DataConfig  # noqa: E402
from tfreid.data import pipeline, sysu  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", help="existing SYSU-MM01-layout dir (default: synthetic)")
    parser.add_argument("--num-ids", type=int, default=40, help="synthetic identities")
    parser.add_argument("--file-height", type=int, default=288, help="synthetic file height")
    parser.add_argument("--file-width", type=int, default=144, help="synthetic file width")
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--width", type=int, default=144)
    parser.add_argument("--num-identities", type=int, default=8, help="P")
    parser.add_argument("--num-instances", type=int, default=4, help="K")
    parser.add_argument("--warmup", type=int, default=5, help="batches before timing")
    parser.add_argument("--batches", type=int, default=50, help="batches timed")
    return parser.parse_args()


def images_per_second(root: str, args: argparse.Namespace) -> float:
    cfg = DataConfig(
        height=args.height,
        width=args.width,
        identities_per_batch=args.num_identities,
        images_per_identity=args.num_instances,
    )
    samples = sysu.train_samples(root)
    batches = iter(pipeline.train_dataset(samples, cfg, seed=0))
    for _ in range(args.warmup):
        next(batches)
    start = time.perf_counter()
    for _ in range(args.batches):
        next(batches)
    elapsed = time.perf_counter() - start
    return args.batches * 2 * cfg.identities_per_batch * cfg.images_per_identity / elapsed


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = args.root
        if root is None:
            from tfreid.data import synthetic

            root = synthetic.write_sysu(
                os.path.join(tmp, "sysu"),
                num_ids=args.num_ids,
                seed=0,
                height=args.file_height,
                width=args.file_width,
            )
        rate = images_per_second(root, args)
    print(
        f"{rate:.1f} images/s ({args.batches} batches of {args.num_identities} ids x "
        f"({args.num_instances} RGB + {args.num_instances} IR) at {args.height}x{args.width}, "
        f"{os.cpu_count()} CPUs)"
    )


if __name__ == "__main__":
    main()
