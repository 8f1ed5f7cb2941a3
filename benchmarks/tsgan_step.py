"""Time of TS-GAN's training step and how it splits between its three updates.

The whole step (`tsgan.train_step` as training builds it, `build_training`, one device) and
each of Algorithm 1's updates alone, each in its own `tf.function` around the strategy's
`run` on the same batch, all in the config's `train.mixed_precision` (`auto`: bfloat16 where
the machine computes it natively): the generators
(4 generator passes, FE_S on the fake IR, D_I and D_R, their backward), the student (forward
on X_R, X_I, X_I', the teacher on X_I and X_I', D_I on M, backward through the student), the
discriminators (D_I on the real pair and M, D_R on real and fake RGB, their backward). The
teacher has random weights (timing does not need a trained one). After a warm-up the four
run back to back in every round; the medians over rounds of the wall and of this process's
CPU time per call are printed (CPU time is steadier on a shared machine).

python benchmarks/tsgan_step.py --backbone resnet6 --height 128 --width 64 \\
    --generator-blocks 3 --generator-filters 16 --discriminator-filters 16
python benchmarks/tsgan_step.py          # the paper's sizes: ResNet-50, 256 x 128, 8 x 4 pairs
python benchmarks/tsgan_step.py --set train.mixed_precision=none     # float32
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tfreid first: it turns on the oneDNN kernels before TensorFlow starts.
import tfreid  # noqa: E402, F401, I001
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfreid.config import load_config  # noqa: E402
from tfreid.methods import tsgan  # noqa: E402
from tfreid.methods.base import Parts  # noqa: E402
from tfreid.models.structures import build_model  # noqa: E402
from tfreid.training import precision  # noqa: E402
from tfreid.training.distribute import choose_strategy  # noqa: E402
from tfreid.training.loop import checkpoint_for  # noqa: E402
from tfreid.training.step import build_training  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="resnet50", choices=["resnet50", "resnet6"])
    parser.add_argument("--height", type=int, default=256)
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--identities", type=int, default=8, help="P")
    parser.add_argument("--pairs", type=int, default=4, help="RGB-IR pairs per identity")
    parser.add_argument("--generator-blocks", type=int, default=9)
    parser.add_argument("--generator-filters", type=int, default=64)
    parser.add_argument("--discriminator-filters", type=int, default=64)
    parser.add_argument("--warmup", type=int, default=1, help="untimed calls of each first")
    parser.add_argument("--rounds", type=int, default=3, help="timed rounds")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="key=value")
    return parser.parse_args()


def build(args: argparse.Namespace, directory: str):
    """(config, `Training`) of TS-GAN on a teacher of random weights, on one device."""
    overrides = [
        f"model.backbone={args.backbone}",
        "model.last_stride=1",
        "model.head=bnneck",
        "model.bnneck_embedding=pooled",
        f"data.height={args.height}",
        f"data.width={args.width}",
        f"data.identities_per_batch={args.identities}",
        f"data.images_per_identity={args.pairs}",
        "optimizer.name=adam",
        "optimizer.learning_rate=0.00035",
        "runtime.strategy=one_device",
    ]
    teacher = build_model(load_config(None, overrides), 1)
    path = checkpoint_for(Parts({"model": teacher}, {}, teacher)).write(f"{directory}/teacher")
    cfg = load_config(
        None,
        [
            *overrides,
            "method.name=tsgan",
            f"method.params.teacher_checkpoint={path}",
            f"method.params.generator_blocks={args.generator_blocks}",
            f"method.params.generator_filters={args.generator_filters}",
            f"method.params.discriminator_filters={args.discriminator_filters}",
            *args.overrides,
        ],
    )
    # The schedule's length (one-step epochs here) does not change what a step costs.
    return cfg, build_training(cfg, 395, choose_strategy(cfg.runtime.strategy), 1)


def make_batch(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(0)
    pid = np.repeat(np.arange(args.identities, dtype=np.int32), args.pairs)
    shape = (len(pid), args.height, args.width, 3)
    return {
        m: {"image": tf.constant(rng.normal(size=shape), tf.float32), "pid": tf.constant(pid)}
        for m in ("rgb", "ir")
    }


def phases(strategy, parts, params, batch) -> dict:
    """The three updates as functions of the batch, each in its own tf.function around
    `strategy.run` (as the step runs them); the inputs a later update needs (fakes, maps) are
    computed once, eagerly. The images enter in the networks' compute dtype, as in the step."""
    gen_ir = parts.nets["gen_ir"]
    rgb, ir = (tf.cast(batch[m]["image"], gen_ir.compute_dtype) for m in ("rgb", "ir"))
    rgb, ir = tsgan.Images(rgb, gen_ir.to_gan(rgb)), tsgan.Images(ir, gen_ir.to_gan(ir))
    labels = tf.concat([batch["rgb"]["pid"], batch["ir"]["pid"], batch["rgb"]["pid"]], 0)

    def generators():
        return tsgan.update_generators(parts, rgb, ir, params)

    fake_ir, fake_rgb, _ = strategy.run(generators)

    def student():
        return tsgan.update_student(parts, rgb, ir, fake_ir, labels, params)

    maps, _ = strategy.run(student)

    def discriminators():
        return tsgan.update_discriminators(parts, rgb, ir, fake_ir, fake_rgb, maps, params)

    updates = {"generators": generators, "student": student, "discriminators": discriminators}
    return {name: tf.function(lambda u=u: strategy.run(u)) for name, u in updates.items()}


def timed(fn) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    tf.nest.map_structure(lambda t: t.numpy() if hasattr(t, "numpy") else t, fn())
    return time.perf_counter() - wall, time.process_time() - cpu


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory() as directory:
        cfg, training = build(args, directory)
    batch = make_batch(args)
    strategy = choose_strategy(cfg.runtime.strategy)
    runs = {
        "step": lambda: training.step(batch),
        **phases(strategy, training.parts, training.params, batch),
    }
    for fn in runs.values():
        for _ in range(args.warmup + 1):  # the first call traces
            fn()
    times = {name: [timed(fn) for _ in range(args.rounds)] for name, fn in runs.items()}
    images = 2 * args.identities * args.pairs
    print(
        f"TS-GAN step, {args.backbone} at {args.height}x{args.width}, {images} real images "
        f"(+{images // 2} fake IR, +{images // 2} fake RGB), generator {args.generator_blocks} "
        f"blocks x {args.generator_filters}, discriminators {args.discriminator_filters}, "
        f"mixed precision {precision.resolve(cfg.train.mixed_precision)}"
    )
    step_cpu = statistics.median(c for _, c in times["step"])
    print(f"{'':16}{'wall s':>9}{'cpu s':>9}{'cpu share':>11}")
    for name, values in times.items():
        wall = statistics.median(w for w, _ in values)
        cpu = statistics.median(c for _, c in values)
        print(f"{name:16}{wall:9.3f}{cpu:9.3f}{100 * cpu / step_cpu:10.1f}%")
    phase_cpu = sum(statistics.median(c for _, c in times[n]) for n in runs if n != "step")
    print(f"{'sum of updates':16}{'':9}{phase_cpu:9.3f}{100 * phase_cpu / step_cpu:10.1f}%")


if __name__ == "__main__":
    main()
