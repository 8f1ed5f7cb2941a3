"""A ResNet-50 training step with tfreid's fused batch norm against Keras's unfused one.

The same network (tfreid's ResNet-50 stages at 288x144, batch 16, global average pooling and a
squared-mean loss, SGD) is trained with `tfreid.layers.batch_norm.BatchNorm` computing through
TensorFlow's fused kernel, and through Keras's own ops (its `_fusable` answered False), in
float32 and bfloat16. Rounds alternate between the four variants; the medians of images/s and
CPU seconds per step are printed, then the fused / Keras speed-up per precision.

    python benchmarks/batch_norm.py [--rounds 5] [--steps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tfreid  # noqa: E402, F401, I001  (oneDNN kernels on before TensorFlow starts)
import keras  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfreid.layers.batch_norm import BatchNorm  # noqa: E402
from tfreid.models.networks import build_backbone  # noqa: E402


def make_step(policy: str, fused: bool, height: int, width: int, batch: int):
    keras.mixed_precision.set_global_policy(policy)
    stages = build_backbone("resnet50", 3, last_stride=1)
    keras.mixed_precision.set_global_policy("float32")
    variables = [v for stage in stages for v in stage.trainable_variables]
    optimizer = keras.optimizers.SGD(0.01)
    optimizer.build(variables)
    images = tf.random.normal((batch, height, width, 3))
    layers = [layer for stage in stages for layer in stage.layers if isinstance(layer, BatchNorm)]

    @tf.function
    def step():
        with tf.GradientTape() as tape:
            x = images
            for stage in stages:
                x = stage(x, training=True)
            loss = tf.reduce_mean(tf.square(tf.cast(x, tf.float32)))
        optimizer.apply(tape.gradient(loss, variables), variables)
        return loss

    if not fused:  # Keras's own ops; the choice is made when the step is traced
        for layer in layers:
            layer._fusable = lambda *args, **kwargs: False
    return step


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--height", type=int, default=288)
    parser.add_argument("--width", type=int, default=144)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3)
    args = parser.parse_args()
    variants = {
        (policy, fused): make_step(policy, fused, args.height, args.width, args.batch)
        for policy in ("float32", "mixed_bfloat16")
        for fused in (True, False)
    }
    for step in variants.values():
        step()
        step()
    wall, cpu = {key: [] for key in variants}, {key: [] for key in variants}
    for _ in range(args.rounds):
        for key, step in variants.items():
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(args.steps):
                float(step())
            wall[key].append(args.batch * args.steps / (time.perf_counter() - start))
            cpu[key].append((time.process_time() - start_cpu) / args.steps)
    print(f"ResNet-50 training step, batch {args.batch} at {args.height}x{args.width}:")
    for (policy, fused), rates in wall.items():
        name = f"{policy:<15} {'fused' if fused else 'keras'}"
        cpu_s = statistics.median(cpu[(policy, fused)])
        print(f"  {name}  {statistics.median(rates):7.2f} images/s  {cpu_s:6.2f} CPU s/step")
    for policy in ("float32", "mixed_bfloat16"):
        ratio = statistics.median(
            a / b for a, b in zip(wall[(policy, True)], wall[(policy, False)])
        )
        print(f"fused / keras ({policy}) = {ratio:.2f}")


if __name__ == "__main__":
    main()
