"""Seconds per training step of HPILN (the HPI loss) on each of its five networks, at the
paper's sizes.

Each network runs its shipped config (`yaml_configs/sysu/hpiln_<name>.yaml`: Table 1's input
size, batches of 8 identities x (4 RGB + 4 IR), Adam), the hpiln method's step as training
builds it (`build_training`) on one device, on random images, 395 classes (SYSU-MM01's training
identities). After `--warmup` untimed steps (tracing), `--steps` steps are timed one by one;
the medians of the wall time and of this process's CPU time (steadier on a shared machine)
are printed. The step computes in the config's `train.mixed_precision` (`auto`: bfloat16
where the machine has it), as training does.

python benchmarks/hpiln_step.py                         # all five networks
python benchmarks/hpiln_step.py --networks resmid bfe --steps 5
python benchmarks/hpiln_step.py --set data.identities_per_batch=2   # any config override
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tfreid first: it turns on the oneDNN kernels before TensorFlow starts.
import tfreid  # noqa: E402, F401, I001
from train_step import make_batch  # noqa: E402  (benchmarks/train_step.py)

from tfreid.config import load_config  # noqa: E402
from tfreid.training import precision  # noqa: E402
from tfreid.training.distribute import choose_strategy  # noqa: E402
from tfreid.training.step import build_training  # noqa: E402

NETWORKS = ("resmid", "mgn", "pcb", "bfe", "mlfn")
CONFIGS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "yaml_configs", "sysu")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS), choices=NETWORKS)
    parser.add_argument("--num-classes", type=int, default=395, help="SYSU-MM01 train ids")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    parser.add_argument("--steps", type=int, default=3, help="timed steps")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="key=value")
    return parser.parse_args()


def measure(network: str, args: argparse.Namespace) -> tuple:
    """(config, parameters, [(wall s, CPU s) per timed step])."""
    path = os.path.join(CONFIGS, f"hpiln_{network}.yaml")
    # The step's speed does not depend on the start: no ImageNet file to fetch or convert.
    start = "model.pretrained_weights=null"
    cfg = load_config(path, ["runtime.strategy=one_device", start, *args.overrides])
    # The schedule's length (one-step epochs here) does not change what a step costs.
    _, _, parts, step = build_training(
        cfg, args.num_classes, choose_strategy(cfg.runtime.strategy), 1
    )
    data = cfg.data
    batch = make_batch(
        data.identities_per_batch,
        data.images_per_identity,
        data.height,
        data.width,
        args.num_classes,
    )
    for _ in range(args.warmup):
        float(step(batch)["loss/total"])
    times = []
    for _ in range(args.steps):
        wall, cpu = time.perf_counter(), time.process_time()
        float(step(batch)["loss/total"])  # reading the loss waits for the step
        times.append((time.perf_counter() - wall, time.process_time() - cpu))
    return cfg, parts.nets["model"].count_params(), times


def main() -> None:
    args = parse_args()
    rows = []
    for network in args.networks:
        cfg, count, times = measure(network, args)
        wall = statistics.median(t[0] for t in times)
        cpu = statistics.median(t[1] for t in times)
        images = 2 * cfg.data.identities_per_batch * cfg.data.images_per_identity
        rows.append((network, cfg.data.height, cfg.data.width, images, count, wall, cpu))
        print(f"{network}: {wall:.2f} s/step wall, {cpu:.2f} s CPU", flush=True)
    policy = precision.resolve(cfg.train.mixed_precision)
    print(f"\nmedians over {args.steps} steps, {os.cpu_count()} CPUs, mixed precision {policy}:")
    print(
        f"  {'network':8s} {'H x W':>9s} {'batch':>5s} {'params':>7s} {'s/step':>7s} "
        f"{'CPU s':>7s} {'images/s':>8s}"
    )
    for network, height, width, images, count, wall, cpu in rows:
        print(
            f"  {network:8s} {height:4d}x{width:<4d} {images:5d} {count / 1e6:6.1f}M {wall:7.2f} "
            f"{cpu:7.2f} {images / wall:8.2f}"
        )


if __name__ == "__main__":
    main()
