"""Every method of METHODS: one step on tiny inputs; and two replicas scale each loss right.

Run as a script (`python tests/methods/test_methods.py`), this module configures two logical
CPUs before TensorFlow starts and prints, for a few method configs, the losses one step
logs under MirroredStrategy and the same losses worked out on one device: batch mining and
MMD / CORAL / FMSP statistics are per replica (DESIGN.md), so the expected value is the mean
of the per-replica values, each over its own identities.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf

from tfreid.config import load_config, method_params
from tfreid.losses import batch_hard_triplet, coral, mmd, similarity_preserving
from tfreid.methods import METHODS
from tfreid.training.loop import make_distributed_step

P, K, H, W, CLASSES = 4, 2, 32, 16, 6
BASE = [
    "model.backbone=resnet6",
    "model.encoding=zero_padding",
    f"data.height={H}",
    f"data.width={W}",
    "optimizer.learning_rate=0.1",
]
TWO_REPLICA_CASES = {
    "fmsp": ["method.name=fmsp", "method.params.weight=10.0"],
    "softmax_extras": [
        "method.name=softmax",
        "method.params.triplet_weight=1.0",
        "method.params.mmd_weight=2.0",
        "method.params.coral_weight=3.0",
    ],
}


def tiny_data(seed=0):
    rng = np.random.default_rng(seed)
    images = {m: rng.normal(size=(P * K, H, W, 3)).astype("float32") for m in ("rgb", "ir")}
    return images, np.repeat(np.arange(P, dtype=np.int32), K)


def batch_for(ids, images, labels):
    rows = [i * K + k for i in ids for k in range(K)]
    return {
        m: {"image": tf.constant(images[m][rows]), "pid": tf.constant(labels[rows])}
        for m in ("rgb", "ir")
    }


@pytest.mark.parametrize("name", sorted(METHODS))
def test_one_step_on_tiny_inputs(name):
    cfg = load_config(None, BASE + [f"method.name={name}"])
    method = METHODS[name]
    parts = method.build(cfg, CLASSES, 1)
    assert "model" in parts.nets
    variables = [v for net in parts.nets.values() for v in net.trainable_variables]
    before = [v.numpy() for v in variables]
    step = make_distributed_step(tf.distribute.get_strategy(), method, parts, method_params(cfg))
    images, labels = tiny_data()
    losses = {k: float(v) for k, v in step(batch_for(range(P), images, labels)).items()}
    assert "loss/total" in losses and all(k.startswith("loss/") for k in losses)
    assert all(np.isfinite(v) for v in losses.values()), losses
    assert sum(np.abs(v.numpy() - b).max() > 0 for v, b in zip(variables, before)) > 0.9 * len(
        variables
    )
    embedding = parts.nets["model"].embed(images["ir"][:3], tf.constant([1, 1, 0]))
    assert embedding.shape[0] == 3 and np.isfinite(embedding.numpy()).all()


def test_two_replicas_average_the_per_replica_losses():
    env = dict(os.environ, CUDA_VISIBLE_DEVICES="", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [sys.executable, os.path.abspath(__file__)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert set(report) == set(TWO_REPLICA_CASES)
    for case, values in report.items():
        assert set(values["two"]) == set(values["expected"]), case
        for key, value in values["expected"].items():
            np.testing.assert_allclose(
                values["two"][key], value, rtol=1e-4, atol=1e-6, err_msg=f"{case} {key}"
            )
        assert values["expected"]["loss/total"] > values["expected"]["loss/id"], case


def expected_losses(cfg, model, images, labels, halves):
    """The losses of one step on two replicas holding `halves` of the identities, from a
    one-device forward pass (synchronised BN: the same statistics as the global batch)."""
    batch = batch_for(range(P), images, labels)
    outputs = model({"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}, training=True)
    all_labels = np.concatenate([batch["rgb"]["pid"], batch["ir"]["pid"]])
    modalities = np.repeat([0, 1], P * K)
    identity = tf.reduce_mean(
        tf.nn.sparse_softmax_cross_entropy_with_logits(all_labels, outputs["logits"])
    )
    params = method_params(cfg)
    per_half = []
    for half in halves:
        rows = np.flatnonzero(np.isin(all_labels, list(half)))
        rgb_rows, ir_rows = rows[modalities[rows] == 0], rows[modalities[rows] == 1]
        features = tf.gather(outputs["features"], rows)
        if cfg.method.name == "fmsp":
            embedding = tf.gather(outputs["embedding"], rows)
            pairs = similarity_preserving(
                all_labels[rows], embedding, modalities[rows], focal=params.focal
            )
            per_half.append({"preservation": tf.reduce_mean(pairs)})
        else:
            rgb, ir = (
                tf.gather(outputs["features"], rgb_rows),
                tf.gather(outputs["features"], ir_rows),
            )
            triplet = batch_hard_triplet(all_labels[rows], features, margin=params.triplet_margin)
            per_half.append(
                {"triplet": tf.reduce_mean(triplet), "mmd": mmd(rgb, ir), "coral": coral(rgb, ir)}
            )
    mean = {key: float(np.mean([h[key] for h in per_half])) for key in per_half[0]}
    expected = {"loss/id": float(identity)}
    if cfg.method.name == "fmsp":
        name = "loss/fmsp" if params.focal else "loss/msp"
        expected[name] = mean["preservation"]
        expected["loss/total"] = expected["loss/id"] + params.weight * mean["preservation"]
        return expected
    expected.update({f"loss/{key}": value for key, value in mean.items()})
    expected["loss/total"] = (
        expected["loss/id"]
        + params.triplet_weight * mean["triplet"]
        + params.mmd_weight * mean["mmd"]
        + params.coral_weight * mean["coral"]
    )
    return expected


def two_replica_report():
    devices = [d.name for d in tf.config.list_logical_devices("CPU")]
    one_device = tf.distribute.OneDeviceStrategy(devices[0])
    mirrored = tf.distribute.MirroredStrategy(devices)
    images, labels = tiny_data(1)
    halves = [range(P // 2), range(P // 2, P)]
    report = {}
    for case, overrides in TWO_REPLICA_CASES.items():
        cfg = load_config(None, BASE + overrides)
        method = METHODS[cfg.method.name]
        with one_device.scope():
            reference = method.build(cfg, CLASSES, 1).nets["model"]
        with mirrored.scope():
            parts = method.build(cfg, CLASSES, 1)
        parts.nets["model"].set_weights(reference.get_weights())
        expected = expected_losses(cfg, reference, images, labels, halves)
        step = make_distributed_step(mirrored, method, parts, method_params(cfg))
        batch = mirrored.experimental_distribute_values_from_function(
            lambda context: batch_for(halves[context.replica_id_in_sync_group], images, labels)
        )
        two = {k: float(v) for k, v in step(batch).items()}
        report[case] = {"two": two, "expected": expected}
    print(json.dumps(report))


if __name__ == "__main__":
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    two_replica_report()
