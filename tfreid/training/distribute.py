"""Strategy choice: all visible GPUs, else one device; several workers when TF_CONFIG is set."""

from __future__ import annotations

import os

import tensorflow as tf


def choose_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """`auto`: MultiWorkerMirrored under TF_CONFIG, Mirrored over 2+ GPUs, else one device.

    `mirrored` forces MirroredStrategy over every visible device of one kind (GPUs, or the
    logical CPUs tests configure), `one_device` the first device.
    """
    if kind not in ("auto", "one_device", "mirrored"):
        raise ValueError(f"runtime.strategy must be auto, one_device or mirrored, got {kind!r}")
    if kind == "auto" and os.environ.get("TF_CONFIG"):
        return tf.distribute.MultiWorkerMirroredStrategy()
    gpus = tf.config.list_logical_devices("GPU")
    if kind == "mirrored":
        devices = gpus or tf.config.list_logical_devices("CPU")
        return tf.distribute.MirroredStrategy([d.name for d in devices])
    if kind == "auto" and len(gpus) > 1:
        return tf.distribute.MirroredStrategy([d.name for d in gpus])
    device = gpus[0].name if gpus else "/cpu:0"
    return tf.distribute.OneDeviceStrategy(device)
