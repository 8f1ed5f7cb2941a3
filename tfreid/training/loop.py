"""The generic training loop: any method's step under a tf.distribute strategy.

The loop knows no method: it builds the method's parts inside the strategy scope, runs one
`tf.function` around `strategy.run(method.train_step, ...)`, logs every named loss and every
optimizer's learning rate, and checkpoints every network, optimizer and the step. The input
stream is a pure function of (seed, step), so a resumed run sees exactly the batches the
interrupted one would have seen.

Checkpoints key every variable by its path inside its network or optimizer, not by its
position: a model whose layers are created in another order restores into the right
variables, and a model whose variables differ in name or shape fails to restore, loudly.
"""

from __future__ import annotations

import dataclasses
import math
import os
import shutil
from collections.abc import Callable

import keras
import tensorflow as tf
from tqdm import tqdm

from tfreid import termination
from tfreid.config import Config
from tfreid.data.check import name_unreadable
from tfreid.data.datasets import training_samples
from tfreid.data.pipeline import train_dataset
from tfreid.data.samples import DatasetError
from tfreid.data.sampling import steps_per_epoch, training_pids
from tfreid.errors import TrainingDiverged, shown
from tfreid.methods import resolve
from tfreid.methods.base import Parts
from tfreid.training import checkpoints, precision
from tfreid.training.checkpoint_keys import variables_by_path
from tfreid.training.distribute import choose_strategy, is_chief, stop_agreement
from tfreid.training.step import build_training


def checkpoint_for(parts: Parts, **extra) -> tf.train.Checkpoint:
    """A checkpoint of every network and optimizer of `parts`, plus `extra` trackables.

    Each network and optimizer is saved as its variables keyed by path (`variables_by_path`),
    BatchNorm moving statistics and optimizer slots included.
    """
    nets = {f"net_{name}": variables_by_path(net) for name, net in parts.nets.items()}
    optimizers = {f"optimizer_{name}": variables_by_path(o) for name, o in parts.optimizers.items()}
    return tf.train.Checkpoint(**nets, **optimizers, **extra)


def checkpoint_value(path: str, name: str):
    """A scalar the loop saved beside the networks (e.g. "num_classes", "step")."""
    return tf.train.load_variable(path, f"{name}/.ATTRIBUTES/VARIABLE_VALUE")


def epoch_length(cfg: Config, samples) -> int:
    """Steps per epoch: train.steps_per_epoch, else one pass over the identities."""
    if cfg.train.steps_per_epoch:
        return cfg.train.steps_per_epoch
    steps = steps_per_epoch(samples, cfg.data.identities_per_batch)
    if steps < 1:
        raise DatasetError(
            f"{cfg.data.root}: {len(training_pids(samples))} identities have both RGB and IR "
            f"images, fewer than data.identities_per_batch = {cfg.data.identities_per_batch}"
        )
    return steps


def train(
    cfg: Config,
    workdir: str,
    samples=None,
    progress: bool = True,
    on_epoch: Callable | None = None,
) -> Parts:
    """Trains (or resumes) `cfg`'s method in `workdir` on `samples` (default: the data set's
    training samples); returns its parts.

    After every epoch's checkpoint, the method's own `epoch_hook` (if it has one) and then
    `on_epoch(epoch, parts, writer)` (periodic validation) run.
    """
    keras.utils.set_random_seed(cfg.train.seed)
    strategy = choose_strategy(cfg.runtime.strategy)
    samples = training_samples(cfg.data) if samples is None else samples
    per_epoch = epoch_length(cfg, samples)
    total = per_epoch * cfg.train.epochs
    classes = len(training_pids(samples))
    print(f"mixed precision: {precision.resolve(cfg.train.mixed_precision)}")
    method, params, parts, distributed_step = build_training(cfg, classes, strategy, per_epoch)
    # Bookkeeping, not trained: plain variables (a multi-worker MirroredVariable cannot be
    # read with int() or assigned outside a replica context).
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
    num_classes = tf.Variable(classes, dtype=tf.int64, trainable=False)
    checkpoint = checkpoint_for(parts, step=step, num_classes=num_classes)
    manager = _checkpoint_manager(checkpoint, strategy, workdir, cfg.train.keep_checkpoints)
    start = _resume(checkpoint, step, workdir, is_chief(strategy), (cfg.train.epochs, per_epoch))
    dataset = strategy.distribute_datasets_from_function(
        lambda context: train_dataset(
            samples, cfg.data, seed=cfg.train.seed, input_context=context, start_step=start
        )
    )

    own_hook = method.epoch_hook(cfg, params, samples) if hasattr(method, "epoch_hook") else None
    hooks = [hook for hook in (own_hook, on_epoch) if hook is not None]
    writer = (
        tf.summary.create_file_writer(os.path.join(workdir, "logs"))
        if is_chief(strategy)
        else tf.summary.create_noop_writer()
    )
    iterator = iter(dataset)
    agree_to_stop = stop_agreement(strategy)
    bar = tqdm(total=total, initial=start, desc="train", unit="step", disable=not progress)
    with termination.deferred() as sigterm:  # a SIGTERM stops at the end of a step
        for current in range(start, total):
            batch = _next_batch(iterator, samples)
            log_now = (current + 1) % cfg.train.log_every == 0 or current + 1 == total
            # Read before the step: afterwards an optimizer reports the next update's rate.
            rates = _learning_rates(parts) if log_now else None
            losses = {k: float(v) for k, v in distributed_step(batch).items()}
            _check_finite(losses, current + 1, manager.latest_checkpoint)
            step.assign(current + 1)
            bar.set_postfix(
                {k.split("/")[-1]: f"{v:.4f}" for k, v in losses.items()}, refresh=False
            )
            bar.update(1)
            if log_now:
                _log_scalars(writer, current + 1, {**losses, **rates})
            epoch_end = (current + 1) % per_epoch == 0
            saved = epoch_end or (current + 1) % cfg.train.checkpoint_every == 0
            if saved:
                _save(manager, parts, current + 1)
            for hook in hooks if epoch_end else []:
                hook((current + 1) // per_epoch, parts, writer)
            if agree_to_stop(sigterm.requested):
                _stop(manager, parts, strategy, (current + 1, total), saved)
        bar.close()
        if not manager.latest_checkpoint or int(step) > _checkpoint_step(manager.latest_checkpoint):
            _save(manager, parts, int(step))
    _remove_worker_copy(manager, strategy)
    if sigterm.requested:
        raise termination.Terminated(
            f"terminated by SIGTERM after the last training step ({int(step)}); the same "
            "command exports and evaluates"
        )
    return parts


def _resume(checkpoint, step: tf.Variable, workdir: str, chief: bool, length) -> int:
    """Restores the newest intact checkpoint of WORKDIR/checkpoints (the chief first removes
    what an interrupted save left); returns the step to start from.

    Raises:
        ConfigError: a checkpoint is past the configured `length` (epochs, steps per epoch).
    """
    directory = os.path.join(workdir, "checkpoints")
    if chief:
        checkpoints.remove_unfinished(directory)
    checkpoints.check_within(directory, *length)
    restored = checkpoints.restore_newest_intact(checkpoint, directory)
    if restored:
        print(f"resuming from {restored} (step {int(step)} of {length[0] * length[1]})")
    return int(step)


def _stop(manager, parts: Parts, strategy, progress: tuple[int, int], saved: bool) -> None:
    """Saves step `progress[0]` (unless this step was just saved) and raises Terminated: a
    SIGTERM reached this process or, under a multi-worker strategy, another worker, and every
    worker stops at this same step."""
    step, total = progress
    if not saved:
        _save(manager, parts, step)
    _remove_worker_copy(manager, strategy)
    where = os.path.join(manager.directory, f"ckpt-{step}") if is_chief(strategy) else "saved"
    raise termination.Terminated(
        f"stopped by SIGTERM at step {step} of {total}, checkpoint {where}; the same command "
        "resumes from it"
    )


def _remove_worker_copy(manager, strategy) -> None:
    """A worker other than the chief deletes its own copy of the checkpoints."""
    if not is_chief(strategy):
        shutil.rmtree(manager.directory, ignore_errors=True)


def _checkpoint_manager(checkpoint, strategy, workdir: str, keep: int):
    """The chief saves to WORKDIR/checkpoints; every other worker of a multi-worker run takes
    part in each save (its variables may be read collectively) but writes to a directory of
    its own, deleted at the end (TensorFlow's documented pattern)."""
    directory = os.path.join(workdir, "checkpoints")
    if not is_chief(strategy):
        directory = os.path.join(directory, f".worker-{strategy.cluster_resolver.task_id}")
        shutil.rmtree(directory, ignore_errors=True)  # left by a worker that was killed
        keep = 1
    return tf.train.CheckpointManager(checkpoint, directory, max_to_keep=keep)


def _next_batch(iterator, samples) -> dict:
    """The next batch; a file that cannot be read is named (the error surfaces here, not in
    the step)."""
    try:
        return next(iterator)
    except tf.errors.OpError as err:
        named = name_unreadable(samples, err, "training")
        if named is err:
            raise
        raise named from err


_DIVERGENCE_DOCS = "(what to do: docs/reliability.md#divergence)"


def _check_finite(losses: dict[str, float], step: int, last_checkpoint: str | None) -> None:
    """Stops at the first non-finite loss, before the step is counted or checkpointed."""
    bad = [f"{k}={v}" for k, v in losses.items() if not math.isfinite(v)]
    if bad:
        raise TrainingDiverged(
            f"step {step}: non-finite loss ({', '.join(bad)}); training stopped, "
            f"last good checkpoint: {last_checkpoint or 'none'} {_DIVERGENCE_DOCS}"
        )


def _save(manager, parts: Parts, step: int) -> None:
    """Checkpoints step `step` unless a weight is NaN or infinite: finite losses can hide it
    (a variable the step's loss does not read, or the last update of the step), and a
    checkpoint holding it would be resumed from, exported and served."""
    bad = [
        weight.path
        for net in parts.nets.values()
        for weight in net.weights
        if not bool(tf.reduce_all(tf.math.is_finite(weight)))
    ]
    if bad:
        raise TrainingDiverged(
            f"step {step}: non-finite weights ({shown(bad)}); training stopped, "
            f"last good checkpoint: {manager.latest_checkpoint or 'none'} {_DIVERGENCE_DOCS}"
        )
    checkpoints.save(manager, step)


def _checkpoint_step(path: str) -> int:
    return int(path.rsplit("-", 1)[-1])


def _learning_rates(parts: Parts) -> dict[str, float]:
    """{"learning_rate/<optimizer>": the rate its next update uses} (a mixed-precision
    wrapper's inner rate)."""
    return {
        f"learning_rate/{name}": float(getattr(o, "inner_optimizer", o).learning_rate)
        for name, o in parts.optimizers.items()
    }


def _log_scalars(writer, step: int, scalars: dict[str, float]) -> None:
    """The losses of update `step` and the learning rates that update used."""
    with writer.as_default(step=step):
        for name, value in scalars.items():
            tf.summary.scalar(name, value)
    writer.flush()


def restore_parts(cfg: Config, checkpoint_path: str) -> Parts:
    """The networks of `cfg`'s method (no optimizers) with the weights of a checkpoint (a
    prefix, or a directory: its newest checkpoint).

    Raises:
        FileNotFoundError: no checkpoint there.
        ConfigError: `cfg` preprocesses otherwise than the run's config.yaml (SERVING_KEYS).
        CheckpointError: it cannot be read, or its variables are not the config's networks'.
    """
    if not tf.io.gfile.exists(checkpoint_path + ".index"):
        found = (
            checkpoints.checkpoint_paths(checkpoint_path) if os.path.isdir(checkpoint_path) else []
        )
        if not found:
            raise FileNotFoundError(
                f"checkpoint {checkpoint_path} not found (give a checkpoint prefix such as "
                f"WORKDIR/checkpoints/ckpt-100, or a directory holding checkpoints)"
            )
        checkpoint_path = found[-1]
    checkpoints.check_serving_config(cfg, checkpoint_path)
    method, params = resolve(cfg)
    # The checkpoint holds every weight: no pretrained file to load (or fetch) first.
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pretrained_weights=None))
    with checkpoints.reading(checkpoint_path):
        num_classes = int(checkpoint_value(checkpoint_path, "num_classes"))
    with precision.dtype_policy(cfg.train.mixed_precision):  # evaluation as fast as training
        parts = method.build(cfg, params, num_classes, None)
    saved_classes = tf.Variable(num_classes, dtype=tf.int64)
    # No step: the best-validation checkpoints (checkpoints/best) do not hold one.
    checkpoint = checkpoint_for(parts, num_classes=saved_classes)
    try:
        with checkpoints.reading(checkpoint_path):
            checkpoint.restore(checkpoint_path).expect_partial().assert_existing_objects_matched()
    except checkpoints.CheckpointError as err:
        raise checkpoints.explained(err, cfg, checkpoint_path) from None
    return parts
