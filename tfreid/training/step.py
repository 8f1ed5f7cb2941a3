"""A config's training step, built one way for the loop, the tests and the benchmarks.

`build_training` builds the method's networks and optimizers inside the strategy's scope and
under the config's precision policy, and wraps the method's `train_step` in the distributed
step the loop runs; a benchmark that times it therefore times what training runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import tensorflow as tf

from tfreid.config import Config
from tfreid.methods import resolve
from tfreid.methods.base import Parts
from tfreid.training import precision
from tfreid.training.optimizers import optimizer_factory


class Training(NamedTuple):
    """What a training run steps: the method module, its `Params`, its parts and the step
    (batch -> {"loss/<name>": float32 scalar tensor}, summed over replicas)."""

    method: Any
    params: Any
    parts: Parts
    step: Callable[[dict], dict[str, tf.Tensor]]


def build_training(
    cfg: Config,
    num_classes: int,
    strategy: tf.distribute.Strategy,
    steps_per_epoch: int,
    epochs: int | None = None,
) -> Training:
    """`cfg`'s method built for training under `strategy`, and its distributed step.

    Args:
        cfg: the run's config; its `train.mixed_precision` sets the layers' compute dtype
            and its `runtime.jit_compile` whether XLA compiles the step.
        num_classes: training identities (the classifiers' width).
        strategy: the strategy whose scope holds the variables and whose replicas run the step.
        steps_per_epoch, epochs: the learning-rate schedule's length (epochs: default
            `train.epochs`).
    """
    method, params = resolve(cfg)
    make_optimizer = optimizer_factory(
        cfg.optimizer,
        steps_per_epoch,
        cfg.train.epochs if epochs is None else epochs,
        cfg.train.mixed_precision,
    )
    with strategy.scope(), precision.dtype_policy(cfg.train.mixed_precision):
        parts = method.build(cfg, params, num_classes, make_optimizer)
    step = make_distributed_step(strategy, method, parts, params, cfg.runtime.jit_compile)
    return Training(method, params, parts, step)


def make_distributed_step(
    strategy: tf.distribute.Strategy, method, parts: Parts, params, jit_compile: bool = False
):
    """One tf.function around strategy.run; each replica's losses (already scaled by the
    global batch) are summed, which gives the global mean. With `jit_compile` every
    replica's step is compiled by XLA (runtime.jit_compile)."""

    def replica_step(batch):
        return method.train_step(parts, batch, params)

    if jit_compile:
        replica_step = tf.function(replica_step, jit_compile=True)

    @tf.function
    def distributed_step(batch):
        losses = strategy.run(replica_step, args=(batch,))
        return {name: strategy.reduce("SUM", value, axis=None) for name, value in losses.items()}

    return distributed_step
