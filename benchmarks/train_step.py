"""Images per second of the engine's training step next to a bare Keras ResNet-50 step.

The engine's step is the softmax method's step as training builds it (`build_training`, one
device), on the ReIDModel (ResNet-50, rgb3, one-stream, 256-d FC + classifier). The bare step
is `keras.applications.ResNet50(weights=None, include_top=False)` + global average pooling +
Dense(num_classes), the same batch, softmax loss and optimizer type, in one `tf.function`.
After a warm-up the two run back to back in every round, in alternating order; a step's
overhead is the median over rounds of its time divided by the bare step's time in the same
round, in wall time and in this process's CPU time (steadier on a shared machine).

python benchmarks/train_step.py                                   # engine vs bare
python benchmarks/train_step.py --rounds 8 --steps 2 --variants bare_sync_bn bare_fc256 engine_plain
python benchmarks/train_step.py --set train.mixed_precision=none   # float32 (any config override)

Variants, to attribute an overhead: `bare_sync_bn` is the bare model with synchronized
BatchNormalization (as tfreid's backbones build it); `bare_fc256` adds the engine's 256-d FC
before the classifier; `engine_plain` is the engine's model and `train_step` in a plain
`tf.function` (no strategy.run, no strategy.reduce); `engine_xla` is the engine's step compiled
with XLA (`runtime.jit_compile: true`), its compile time printed (it happens in the warm-up).
Every step computes in the config's `train.mixed_precision` (`auto`: bfloat16 where the machine
computes it natively, as training does), the bare ones too; the report names it."""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tfreid first: it turns on the oneDNN kernels before TensorFlow starts, for both steps.
import tfreid  # noqa: E402, F401, I001
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfreid.config import load_config  # noqa: E402
from tfreid.losses import identity_loss  # noqa: E402
from tfreid.training import precision  # noqa: E402
from tfreid.training.distribute import choose_strategy  # noqa: E402
from tfreid.training.step import build_training  # noqa: E402

VARIANTS = ("bare_sync_bn", "bare_fc256", "engine_plain", "engine_xla")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--width", type=int, default=144)
    parser.add_argument("--num-identities", type=int, default=2, help="P")
    parser.add_argument("--num-instances", type=int, default=4, help="K per modality")
    parser.add_argument("--num-classes", type=int, default=395, help="SYSU-MM01 train ids")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps of each first")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timed rounds")
    parser.add_argument("--steps", type=int, default=3, help="timed steps per round")
    parser.add_argument("--variants", nargs="*", default=[], choices=VARIANTS)
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], help="key=value")
    return parser.parse_args()


def make_batch(
    num_identities: int, num_instances: int, height: int, width: int, num_classes: int
) -> dict:
    """{"rgb": {...}, "ir": {...}} of random normalised images, P identities x K each."""
    rng = np.random.default_rng(0)
    pids = rng.choice(num_classes, num_identities, replace=False)
    count = num_identities * num_instances
    shape = (count, height, width, 3)

    def modality(camid: int) -> dict:
        return {
            "image": tf.constant(rng.standard_normal(shape), tf.float32),
            "pid": tf.constant(np.repeat(pids, num_instances), tf.int32),
            "camid": tf.fill([count], camid),
        }

    return {"rgb": modality(1), "ir": modality(3)}


def engine_config(args: argparse.Namespace, *overrides: str):
    return load_config(
        None,
        [
            "model.backbone=resnet50",
            f"data.height={args.height}",
            f"data.width={args.width}",
            "model.encoding=rgb3",
            "model.structure=one_stream",
            "runtime.strategy=one_device",
            f"data.identities_per_batch={args.num_identities}",
            f"data.images_per_identity={args.num_instances}",
            *args.overrides,
            *overrides,
        ],
    )


def engine_step(cfg, num_classes: int, distributed: bool = True):
    """The engine's step of `cfg` as training builds it; `distributed=False` runs the
    method's `train_step` in a plain tf.function (the model built outside any strategy)."""
    # The schedule's length (one-step epochs here) does not change what a step costs.
    if distributed:
        return build_training(cfg, num_classes, choose_strategy(cfg.runtime.strategy), 1).step
    method, params, parts, _ = build_training(cfg, num_classes, tf.distribute.get_strategy(), 1)
    return tf.function(lambda batch: method.train_step(parts, batch, params))


def _synchronize_bn(layer):
    config = layer.get_config()
    if isinstance(layer, keras.layers.BatchNormalization):
        config["synchronized"] = True
    return layer.__class__.from_config(config)


def bare_step(args: argparse.Namespace, cfg, sync_bn=False, fc_dim=None):
    """ResNet50 + GAP (+ FC) + Dense, softmax loss, SGD as the engine configures it, in the
    config's precision."""
    with precision.dtype_policy(cfg.train.mixed_precision):
        backbone = keras.applications.ResNet50(
            weights=None, include_top=False, input_shape=(args.height, args.width, 3)
        )
        if sync_bn:
            backbone = keras.models.clone_model(backbone, clone_function=_synchronize_bn)
        head = [keras.layers.GlobalAveragePooling2D()]
        if fc_dim:
            head.append(keras.layers.Dense(fc_dim))
        model = keras.Sequential([backbone, *head, keras.layers.Dense(args.num_classes)])
    optimizer = keras.optimizers.SGD(
        cfg.optimizer.learning_rate,
        momentum=cfg.optimizer.momentum,
        weight_decay=cfg.optimizer.weight_decay or None,
    )
    optimizer.build(model.trainable_variables)

    @tf.function
    def step(batch):
        images = tf.concat([batch["rgb"]["image"], batch["ir"]["image"]], axis=0)
        labels = tf.concat([batch["rgb"]["pid"], batch["ir"]["pid"]], axis=0)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(identity_loss(labels, model(images, training=True)))
        gradients = tape.gradient(loss, model.trainable_variables)
        optimizer.apply(gradients, model.trainable_variables)
        return {"loss/total": loss}

    return step


def timed(step, batch, steps: int) -> tuple[float, float]:
    """Wall and process-CPU seconds per step; reading the loss waits for the step to end.

    On a shared machine the CPU time this process spends is steadier than the wall time.
    """
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(steps):
        float(step(batch)["loss/total"])
    return (time.perf_counter() - wall) / steps, (time.process_time() - cpu) / steps


def report(seconds: dict, images: int, args: argparse.Namespace, policy: str) -> None:
    """Median rates, and the median over rounds of each step's time relative to the bare
    step's time in the same round (adjacent runs share the machine's load)."""
    print(
        f"\nmedians over {args.rounds} rounds x {args.steps} steps, batch {images} "
        f"({args.num_identities} ids x ({args.num_instances} RGB + {args.num_instances} IR)) "
        f"at {args.height}x{args.width}, {os.cpu_count()} CPUs, mixed precision {policy}:"
    )
    heads = ("images/s", "CPU s/step", "wall vs bare", "CPU vs bare")
    print(f"  {'step':13s} {heads[0]:>9s} {heads[1]:>11s} {heads[2]:>13s} {heads[3]:>12s}")
    bare = seconds["bare"]
    for name, values in seconds.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        wall_ratio = statistics.median(v[0] / b[0] for v, b in zip(values, bare))
        cpu_ratio = statistics.median(v[1] / b[1] for v, b in zip(values, bare))
        print(
            f"  {name:13s} {images / wall:9.2f} {cpu:11.2f} {100 * (wall_ratio - 1):+12.1f}% "
            f"{100 * (cpu_ratio - 1):+11.1f}%"
        )


def main() -> None:
    args = parse_args()
    batch = make_batch(
        args.num_identities, args.num_instances, args.height, args.width, args.num_classes
    )
    images = 2 * args.num_identities * args.num_instances
    cfg = engine_config(args)
    policy = precision.resolve(cfg.train.mixed_precision)
    steps = {"engine": engine_step(cfg, args.num_classes), "bare": bare_step(args, cfg)}
    builders = {
        "bare_sync_bn": lambda: bare_step(args, cfg, sync_bn=True),
        "bare_fc256": lambda: bare_step(args, cfg, fc_dim=cfg.model.feature_dim),
        "engine_plain": lambda: engine_step(cfg, args.num_classes, distributed=False),
        "engine_xla": lambda: engine_step(
            engine_config(args, "runtime.jit_compile=true"), args.num_classes
        ),
    }
    for name in args.variants:
        steps[name] = builders[name]()
    for name, step in steps.items():
        start = time.perf_counter()
        timed(step, batch, args.warmup)
        print(f"warm-up of {name}: {time.perf_counter() - start:.1f} s ({args.warmup} steps)")
    seconds = {name: [] for name in steps}
    for round_index in range(args.rounds):
        # Engine and bare run back to back, in alternating order, so they share the load.
        first = ["engine", "bare"] if round_index % 2 == 0 else ["bare", "engine"]
        for name in first + list(args.variants):
            seconds[name].append(timed(steps[name], batch, args.steps))
        print(
            f"round {round_index + 1}: "
            + ", ".join(f"{name} {images / seconds[name][-1][0]:.2f}" for name in steps)
            + " images/s",
            flush=True,
        )
    report(seconds, images, args, policy)


if __name__ == "__main__":
    main()
