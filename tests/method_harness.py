"""The generic method harness: tiny configs, random batches, one step, two replicas, export.

Every method of `tfreid.methods.METHODS` goes through the same functions (tests/methods/
test_methods.py); a method's own test file adds its analytic references.
"""

import atexit
import functools
import os
import shutil
import tempfile

import keras
import numpy as np
import pytest
import tensorflow as tf
from knobs import read_knobs

from tfreid.config import load_config
from tfreid.export import embedding_function, export_saved_model
from tfreid.methods.base import Parts
from tfreid.models.structures import build_model
from tfreid.training.loop import checkpoint_for
from tfreid.training.step import build_training, make_distributed_step

P, K, H, W, CLASSES = 4, 2, 32, 16, 6
# In an override, replaced by the checkpoint of a ResNet-6 ReID model (random weights, the
# current dtype policy): a stand-in for a trained teacher (TS-GAN's IR baseline).
TINY_TEACHER = "<tiny teacher>"
# TS-GAN at the smallest size its joint discriminator takes, with tiny GAN networks.
TINY_TSGAN = (
    "method.name=tsgan",
    "data.height=64",
    "data.width=32",
    "model.head=bnneck",
    "model.bnneck_embedding=pooled",
    f"method.params.teacher_checkpoint={TINY_TEACHER}",
    "method.params.generator_blocks=1",
    "method.params.generator_filters=8",
    "method.params.discriminator_filters=8",
)


def tiny_config(*overrides):
    """A ResNet-6 config at H x W trained by plain SGD (no momentum, no weight decay), so a
    test can predict an update as -lr times the gradient."""
    overrides = [
        o.replace(TINY_TEACHER, tiny_teacher()) if TINY_TEACHER in o else o for o in overrides
    ]
    return load_config(
        None,
        [
            "model.backbone=resnet6",
            *read_knobs(overrides, feature_dim=16),
            f"data.height={H}",
            f"data.width={W}",
            "optimizer.learning_rate=0.1",
            "optimizer.momentum=0.0",
            "optimizer.weight_decay=0.0",
            "train.mixed_precision=none",  # the same numbers on every machine
            *overrides,
        ],
    )


def tiny_teacher() -> str:
    """The prefix of a ResNet-6 ReID model's checkpoint (net "model"), as a training run
    writes it, in the current dtype policy's precision; one per policy and session."""
    return _teacher_checkpoint(keras.config.dtype_policy().name)


@functools.cache
def _teacher_checkpoint(policy: str) -> str:
    cfg = load_config(None, ["model.backbone=resnet6", "model.head=bnneck"])
    model = build_model(cfg, CLASSES)
    directory = tempfile.mkdtemp(prefix="tfreid_tiny_teacher_")
    atexit.register(shutil.rmtree, directory, True)
    checkpoint = checkpoint_for(Parts({"model": model}, {}, model))
    return checkpoint.write(os.path.join(directory, policy, "ckpt"))


def random_batch(seed=0, ids=range(P), height=H, width=W):
    """Normal-noise images of identities `ids`, K per identity and modality, identity-major."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.asarray(list(ids), np.int32), K)
    return {
        m: {
            "image": tf.constant(rng.normal(size=(len(pid), height, width, 3)), tf.float32),
            "pid": tf.constant(pid),
            "camid": tf.zeros(len(pid), tf.int32),
        }
        for m in ("rgb", "ir")
    }


def synthetic_batch(seed=0):
    """Each identity is a vertical colour pattern; its IR images are the same pattern in gray
    (as an IR camera loses colour), both with pixel noise."""
    rng = np.random.default_rng(seed)
    patterns = rng.uniform(-1.5, 1.5, size=(P, H, 1, 3))
    rgb = np.repeat(patterns, K, axis=0) + 0.3 * rng.normal(size=(P * K, H, W, 3))
    gray = np.repeat(patterns.mean(axis=3, keepdims=True), 3, axis=3)
    ir = np.repeat(gray, K, axis=0) + 0.3 * rng.normal(size=(P * K, H, W, 3))
    pid = np.repeat(np.arange(P, dtype=np.int32), K)
    return {
        "rgb": {"image": tf.constant(rgb, tf.float32), "pid": pid},
        "ir": {"image": tf.constant(ir, tf.float32), "pid": pid},
    }


def build(cfg, num_classes=CLASSES):
    """(method, params, parts) of `cfg` as the training loop builds them (in the current
    strategy's scope, the config's precision), optimizers on a one-step schedule."""
    training = build_training(cfg, num_classes, tf.distribute.get_strategy(), 1, epochs=1)
    return training.method, training.params, training.parts


def step(strategy, method, parts, params, batch) -> dict[str, float]:
    """One distributed step, as the training loop runs it; the logged losses."""
    losses = make_distributed_step(strategy, method, parts, params)(batch)
    return {name: float(value) for name, value in losses.items()}


def weights(parts) -> dict[str, list[np.ndarray]]:
    """The weights of every network that trains; a frozen one (a teacher) has none to move
    and is checked by its method's own tests."""
    return {
        name: [w.copy() for w in net.get_weights()]
        for name, net in parts.nets.items()
        if net.trainable_variables
    }


@functools.cache
def strategies():
    """(one device, two replicas) over the logical CPUs tests/conftest.py configures.

    Made once: collective ops of a second MirroredStrategy over the same devices can collide
    with the first one's (TensorFlow keys them per strategy, not per process).
    """
    devices = [d.name for d in tf.config.list_logical_devices("CPU")][:2]
    assert len(devices) == 2, "tests/conftest.py configures two logical CPUs"
    return tf.distribute.OneDeviceStrategy(devices[0]), tf.distribute.MirroredStrategy(devices)


def two_replicas_and_one_device(cfg, seed=0):
    """One step on two replicas that both hold the same half batch, and one step on one device
    with that half batch, from the same weights: ((losses, weights) two, (...) one, initial).

    Per-replica mining then equals one-device mining and synchronised batch norm sees the
    same statistics, so every logged loss and every weight must agree: a loss scaled twice,
    or not at all, under two replicas shows as a factor of 2 (in the loss and the update).
    """
    one, two = strategies()
    half = random_batch(seed, range(P // 2), cfg.data.height, cfg.data.width)
    keras.utils.set_random_seed(seed)
    with one.scope():
        method, params, parts_one = build(cfg)
    with two.scope():
        _, _, parts_two = build(cfg)
    for name, net in parts_one.nets.items():
        parts_two.nets[name].set_weights(net.get_weights())
    initial = weights(parts_one)
    losses_one = step(one, method, parts_one, params, half)
    both = two.experimental_distribute_values_from_function(lambda _: half)
    losses_two = step(two, method, parts_two, params, both)
    return (losses_two, weights(parts_two)), (losses_one, weights(parts_one)), initial


def saved_model_round_trip(parts, cfg, directory, seed=0):
    """(in-process embeddings, the reloaded SavedModel's) of random uint8 images of mixed
    modalities at another size than the model's (the signature resizes)."""
    rng = np.random.default_rng(seed)
    size = (cfg.data.height + 8, cfg.data.width + 4)
    images = tf.constant(rng.integers(0, 256, (5, *size, 3)), tf.uint8)
    modality = tf.constant([0, 1, 1, 0, 1], tf.int32)
    in_process = embedding_function(parts, cfg.data)(images, modality).numpy()
    export_saved_model(parts, cfg.data, directory)
    loaded = tf.saved_model.load(directory)
    served = loaded.signatures["serving_default"](image=images, modality=modality)["embedding"]
    return in_process, served.numpy()


def assert_same_step(two, one, initial) -> None:
    """Every logged loss and every weight of the two-replica step equal the one-device step's
    (float64), and the step moved the weights (`two_replicas_and_one_device`'s results)."""
    (losses_two, weights_two), (losses_one, weights_one) = two, one
    assert losses_two.keys() == losses_one.keys()
    for name, value in losses_one.items():
        assert losses_two[name] == pytest.approx(value, rel=1e-10, abs=1e-12), name
    for net, values in weights_one.items():
        moved = max(np.abs(a - b).max() for a, b in zip(values, initial[net], strict=True))
        assert moved > 1e-4, f"{net}: the step did not change the weights"
        diff = max(np.abs(a - b).max() for a, b in zip(values, weights_two[net], strict=True))
        assert diff < 1e-10 * max(1.0, moved), f"{net}: weights differ by {diff}"
