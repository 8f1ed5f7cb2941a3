"""Strategy choice: all visible GPUs, else one device; several workers when TF_CONFIG is set."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable

import tensorflow as tf


@functools.cache
def choose_strategy(kind: str = "auto") -> tf.distribute.Strategy:
    """`auto`: MultiWorkerMirrored under TF_CONFIG, Mirrored over 2+ GPUs, else one device.

    `mirrored` forces MirroredStrategy over every visible device of one kind (GPUs, or the
    logical CPUs tests configure), `one_device` the first device. One strategy per kind and
    process: a multi-worker strategy must be made before TensorFlow runs any op, so a run
    makes it first and the training loop gets the same one.
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


def is_chief(strategy: tf.distribute.Strategy) -> bool:
    """Whether this process writes the run's files: always, except on the non-chief workers
    of a multi-worker run (the chief is task "chief", else worker 0)."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return True
    if resolver.task_type == "chief":
        return True
    has_chief = "chief" in resolver.cluster_spec().as_dict()
    return resolver.task_type == "worker" and resolver.task_id == 0 and not has_chief


def stop_agreement(strategy: tf.distribute.Strategy) -> Callable[[bool], bool]:
    """`agree(requested)`: whether any worker asks to stop (a SIGTERM reached it).

    Under a multi-worker strategy every worker calls it after the same step and all get the
    same answer (a sum of the workers' flags over the cluster), so that all save the same step
    and stop together; a signal that reaches one worker stops the run at the step it is in.
    In one process it is the flag itself.
    """
    if not isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        return bool

    @tf.function
    def requests(flag: tf.Tensor) -> tf.Tensor:
        return strategy.reduce("SUM", strategy.run(lambda: tf.identity(flag)), axis=None)

    return lambda requested: float(requests(tf.constant(float(requested)))) > 0
