"""Run as a script: one softmax step on 2 logical CPUs vs one device; prints the differences.

A separate process because logical devices must be configured before TensorFlow starts.
The model runs in float64: in float32 the two placements sum in different orders, so a
ReLU or max-pool input within rounding of its kink can take the other branch in one of them.
That is the likely cause of one CI run where a weight differed by 3.6e-3 (47 float32 runs
here stayed under 4e-7). In float64 such a flip is out of reach, so any difference left is
a real one (unsynchronised batch norm gives 0.17).
"""

import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)

keras.config.set_floatx("float64")
keras.utils.set_random_seed(0)

from tfreid.config import load_config, method_params  # noqa: E402
from tfreid.methods import METHODS  # noqa: E402
from tfreid.training.loop import make_distributed_step  # noqa: E402

P, K, H, W, CLASSES = 4, 2, 32, 16, 6


def batch_for(ids, rng_images, labels):
    rows = [i * K + k for i in ids for k in range(K)]
    return {
        m: {
            "image": tf.constant(rng_images[m][rows]),
            "pid": tf.constant(labels[rows]),
            "camid": tf.zeros(len(rows), tf.int32),
        }
        for m in ("rgb", "ir")
    }


def run(strategy, cfg, images, labels, weights):
    method = METHODS[cfg.method.name]
    with strategy.scope():
        parts = method.build(cfg, CLASSES, 1)
    if weights is not None:
        parts.nets["model"].set_weights(weights)
    initial = parts.nets["model"].get_weights()
    step = make_distributed_step(strategy, method, parts, method_params(cfg))
    if strategy.num_replicas_in_sync == 1:
        batch = batch_for(range(P), images, labels)
    else:
        halves = [range(P // 2), range(P // 2, P)]
        batch = strategy.experimental_distribute_values_from_function(
            lambda ctx: batch_for(halves[ctx.replica_id_in_sync_group], images, labels)
        )
    losses = {k: float(v) for k, v in step(batch).items()}
    return losses, initial, parts.nets["model"].get_weights()


def main(structure):
    cfg = load_config(
        None,
        [
            "model.backbone=resnet6",
            f"model.structure={structure}",
            "model.specific_stages=3",
            "model.encoding=zero_padding",
            f"data.height={H}",
            f"data.width={W}",
            "optimizer.learning_rate=0.1",
        ],
    )
    rng = np.random.default_rng(0)
    images = {m: rng.normal(size=(P * K, H, W, 3)).astype("float32") for m in ("rgb", "ir")}
    labels = np.repeat(np.arange(P, dtype=np.int32), K)
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    one, initial, one_weights = run(
        tf.distribute.OneDeviceStrategy(devices[0]), cfg, images, labels, None
    )
    two, _, two_weights = run(tf.distribute.MirroredStrategy(devices), cfg, images, labels, initial)
    moved = max(float(np.abs(a - b).max()) for a, b in zip(one_weights, initial))
    diff = max(float(np.abs(a - b).max()) for a, b in zip(one_weights, two_weights))
    print(json.dumps({"one": one, "two": two, "weight_diff": diff, "moved": moved}))


if __name__ == "__main__":
    main(sys.argv[1])
