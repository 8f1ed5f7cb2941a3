"""Training-step speed of the base-derivative method next to the softmax method's, at 288x144.

Three training steps as training builds them (`build_training`, one device) on the same
random batch of P identities x (K RGB + K IR) images, all on the model section of
yaml_configs/sysu/base_derivative.yaml (ResNet-50, a stem per modality, shared layer1-4 with
last stride 1, BN neck), no ImageNet weights (speed does not depend on them), in the config's
`train.mixed_precision` (`auto`: bfloat16 where the machine computes it natively):

- `base_derivative`: the paper's model: the generator adds P x K D_V and P x K D_I images, four
  stems, ID + MML + MDL (V-I, V-D_I, I-D_V);
- `b2_v_i_only`: `mdl_pairs: [V-I]` (Table IV's B2): V and I only, ID + MML + MDL;
- `softmax`: the softmax method (identity loss only) on V and I.

After a warm-up the steps run back to back in every round, in rotating order; each step's cost
is the median over rounds of its time relative to the softmax step's in the same round, in wall
time and in this process's CPU time (steadier on a shared machine). Rates count the loaded
images (2 P K per step), which is what an epoch costs.

python benchmarks/base_derivative_step.py                          # the paper's 6 x (4 + 4)
python benchmarks/base_derivative_step.py --num-identities 2 --rounds 3 --steps 1
python benchmarks/base_derivative_step.py --set train.mixed_precision=none       # float32
"""

from __future__ import annotations

import argparse
import os
import statistics

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tfreid first: it turns on the oneDNN kernels before TensorFlow starts.
import tfreid  # noqa: E402, F401, I001
from train_step import make_batch, timed  # noqa: E402  (benchmarks/train_step.py)

from tfreid.config import load_config  # noqa: E402
from tfreid.training import precision  # noqa: E402
from tfreid.training.distribute import choose_strategy  # noqa: E402
from tfreid.training.step import build_training  # noqa: E402

CONFIG = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "yaml_configs",
    "sysu",
    "base_derivative.yaml",
)
STEPS = {
    "base_derivative": [],
    "b2_v_i_only": ["method.params.mdl_pairs=[V-I]"],
    "softmax": ["method.name=softmax", "method.params={}"],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--width", type=int, default=144)
    parser.add_argument("--num-identities", type=int, default=6, help="P")
    parser.add_argument("--num-instances", type=int, default=4, help="K per modality")
    parser.add_argument("--num-classes", type=int, default=395, help="SYSU-MM01 train ids")
    parser.add_argument("--warmup", type=int, default=1, help="untimed steps of each first")
    parser.add_argument("--rounds", type=int, default=3, help="rotating timed rounds")
    parser.add_argument("--steps", type=int, default=2, help="timed steps per round")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="key=value")
    return parser.parse_args()


def step_config(args: argparse.Namespace, overrides: list[str]):
    """The base-derivative config with a step's `overrides` and the command line's."""
    return load_config(
        CONFIG,
        [
            *overrides,
            "model.pretrained_weights=null",  # the step's speed does not depend on the start
            f"data.height={args.height}",
            f"data.width={args.width}",
            f"data.identities_per_batch={args.num_identities}",
            f"data.images_per_identity={args.num_instances}",
            "runtime.strategy=one_device",
            *args.overrides,
        ],
    )


def report(seconds: dict, images: int, args: argparse.Namespace, policy: str) -> None:
    print(
        f"\nmedians over {args.rounds} rounds x {args.steps} steps, {images} loaded images "
        f"({args.num_identities} ids x ({args.num_instances} RGB + {args.num_instances} IR)) "
        f"at {args.height}x{args.width}, {os.cpu_count()} CPUs, mixed precision {policy}:"
    )
    heads = ("images/s", "s/step", "CPU s/step", "wall vs softmax", "CPU vs softmax")
    widths = (9, 7, 11, 16, 15)
    print(f"  {'step':16s} " + " ".join(f"{h:>{w}s}" for h, w in zip(heads, widths)))
    reference = seconds["softmax"]
    for name, values in seconds.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        wall_ratio = statistics.median(v[0] / r[0] for v, r in zip(values, reference))
        cpu_ratio = statistics.median(v[1] / r[1] for v, r in zip(values, reference))
        print(
            f"  {name:16s} {images / wall:9.2f} {wall:7.2f} {cpu:11.2f} {wall_ratio:15.2f}x "
            f"{cpu_ratio:14.2f}x"
        )


def main() -> None:
    args = parse_args()
    batch = make_batch(
        args.num_identities, args.num_instances, args.height, args.width, args.num_classes
    )
    images = 2 * args.num_identities * args.num_instances
    configs = {name: step_config(args, overrides) for name, overrides in STEPS.items()}
    policy = ", ".join(
        sorted({precision.resolve(c.train.mixed_precision) for c in configs.values()})
    )
    # The schedule's length (one-step epochs here) does not change what a step costs.
    steps = {
        name: build_training(cfg, args.num_classes, choose_strategy(cfg.runtime.strategy), 1).step
        for name, cfg in configs.items()
    }
    for step in steps.values():
        timed(step, batch, args.warmup)
    seconds = {name: [] for name in steps}
    names = list(steps)
    for round_index in range(args.rounds):
        # Rotating order, so that no step always runs first (or last) in a round.
        shift = round_index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds[name].append(timed(steps[name], batch, args.steps))
        print(
            f"round {round_index + 1}: "
            + ", ".join(f"{name} {seconds[name][-1][0]:.2f} s/step" for name in names),
            flush=True,
        )
    report(seconds, images, args, policy)


if __name__ == "__main__":
    main()
