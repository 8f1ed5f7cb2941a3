"""Optimizers and learning-rate schedules from the `optimizer` config section.

Methods receive `optimizer_factory(...)`'s `make_optimizer` in `build`: the schedule (steps per
epoch, epochs) and the precision policy stay in the training package.
"""

from __future__ import annotations

import dataclasses
import math

import keras
from keras import ops

from tfreid.config import OptimizerConfig
from tfreid.training.precision import resolve


@keras.saving.register_keras_serializable(package="tfreid")
class WarmupSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from `base/warmup_steps` to `base`, then constant, multi-step or cosine.

    Steps count optimizer updates; epochs in the config are turned into steps by the caller.
    With `warmup_interval` n the warm-up rate rises every n steps instead of every step:
    `base (floor(step / n) + 1) / (warmup_steps / n)`, so n = steps per epoch gives the
    epoch-stepped warm-up lr (e + 1) / E of BoT-style schedulers.
    """

    def __init__(
        self,
        base: float,
        total_steps: int,
        warmup_steps: int = 0,
        decay: str = "constant",
        milestones: tuple[int, ...] = (),
        gamma: float = 0.1,
        warmup_interval: int = 1,
    ):
        if decay not in ("constant", "multistep", "cosine"):
            raise ValueError(f"decay must be constant, multistep or cosine, got {decay!r}")
        self.base = float(base)
        self.total_steps = int(total_steps)
        self.warmup_steps = int(warmup_steps)
        self.decay = decay
        self.milestones = tuple(int(m) for m in milestones)
        self.gamma = float(gamma)
        self.warmup_interval = int(warmup_interval)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        if self.decay == "multistep":
            passed = sum(ops.cast(step >= m, "float32") for m in self.milestones)
            rate = self.base * ops.power(self.gamma, passed) if self.milestones else self.base
        elif self.decay == "cosine":
            span = max(self.total_steps - self.warmup_steps, 1)
            progress = ops.clip((step - self.warmup_steps) / span, 0.0, 1.0)
            rate = 0.5 * self.base * (1.0 + ops.cos(math.pi * progress))
        else:
            rate = ops.convert_to_tensor(self.base)
        if self.warmup_steps > 0:
            interval = float(self.warmup_interval)
            increments = self.warmup_steps / interval
            warm = self.base * (ops.floor(step / interval) + 1.0) / increments
            rate = ops.where(step < self.warmup_steps, ops.minimum(warm, rate), rate)
        return rate

    def get_config(self):
        return {
            "base": self.base,
            "total_steps": self.total_steps,
            "warmup_steps": self.warmup_steps,
            "decay": self.decay,
            "milestones": list(self.milestones),
            "gamma": self.gamma,
            "warmup_interval": self.warmup_interval,
        }


def build_schedule(cfg: OptimizerConfig, steps_per_epoch: int, epochs: int) -> WarmupSchedule:
    return WarmupSchedule(
        base=cfg.learning_rate,
        total_steps=steps_per_epoch * epochs,
        warmup_steps=round(cfg.warmup_epochs * steps_per_epoch),
        decay=cfg.schedule,
        milestones=tuple(m * steps_per_epoch for m in cfg.milestones),
        gamma=cfg.gamma,
        warmup_interval=steps_per_epoch if cfg.warmup_per_epoch else 1,
    )


class _L2Gradient:
    """Weight decay as an L2 term added to the gradient (g + l2 * w) before the update rule.

    This is `weight_decay` of torch.optim.SGD and torch.optim.Adam, with which the papers
    train; Keras's own `weight_decay` is decoupled (AdamW-style) for every optimizer, which
    with momentum or Adam's scaling is a different, much weaker regulariser.
    """

    def __init__(self, *args, l2: float = 0.0, **kwargs):
        super().__init__(*args, **kwargs)
        self.l2 = float(l2)

    def update_step(self, gradient, variable, learning_rate):
        if self.l2:
            gradient = gradient + ops.cast(self.l2, gradient.dtype) * variable
        super().update_step(gradient, variable, learning_rate)

    def get_config(self):
        return {**super().get_config(), "l2": self.l2}


@keras.saving.register_keras_serializable(package="tfreid")
class L2SGD(_L2Gradient, keras.optimizers.SGD):
    """SGD with L2 weight decay in the gradient (torch.optim.SGD's weight_decay)."""


@keras.saving.register_keras_serializable(package="tfreid")
class L2Adam(_L2Gradient, keras.optimizers.Adam):
    """Adam with L2 weight decay in the gradient (torch.optim.Adam's weight_decay)."""


def build_optimizer(
    cfg: OptimizerConfig,
    variables: list,
    steps_per_epoch: int,
    epochs: int,
    loss_scaling: bool = False,
) -> keras.optimizers.Optimizer:
    """SGD (momentum, Nesterov) or Adam with L2 weight decay, or AdamW (decoupled decay);
    wrapped in a LossScaleOptimizer with `loss_scaling` (float16).

    The optimizer's slots are created here for `variables`, inside the caller's strategy
    scope: creating them lazily inside the distributed step is not allowed, and a checkpoint
    restore then finds them.
    """
    rate = build_schedule(cfg, steps_per_epoch, epochs)
    if cfg.name == "sgd":
        optimizer = L2SGD(rate, momentum=cfg.momentum, nesterov=cfg.nesterov, l2=cfg.weight_decay)
    elif cfg.name == "adam":
        optimizer = L2Adam(rate, beta_1=cfg.beta_1, l2=cfg.weight_decay)
    elif cfg.name == "adamw":
        optimizer = keras.optimizers.AdamW(rate, beta_1=cfg.beta_1, weight_decay=cfg.weight_decay)
    else:
        raise ValueError(f"optimizer.name must be sgd, adam or adamw, got {cfg.name!r}")
    if loss_scaling:
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    optimizer.build(variables)
    return optimizer


def optimizer_factory(
    cfg: OptimizerConfig, steps_per_epoch: int, epochs: int, mixed_precision: str = "none"
):
    """`make_optimizer(variables, lr_scale=1.0, settings=None)` for a method's `build`.

    It builds an optimizer for `variables` with the run's schedule: `cfg`'s settings (or
    `settings`, another `OptimizerConfig`, for a network a method trains otherwise) with the
    learning rate times `lr_scale`, scaling the loss under float16 (`train.mixed_precision`).
    """
    loss_scaling = resolve(mixed_precision) == "float16"

    def make_optimizer(variables, lr_scale: float = 1.0, settings: OptimizerConfig | None = None):
        chosen = settings or cfg
        scaled = dataclasses.replace(chosen, learning_rate=chosen.learning_rate * lr_scale)
        return build_optimizer(scaled, variables, steps_per_epoch, epochs, loss_scaling)

    return make_optimizer
