"""Checkpoints that survive damage: resume from the newest intact one, save without leaving a
partial one, and refuse a rerun whose config no longer describes the work dir's weights.

A checkpoint is the pair `ckpt-N.index` + `ckpt-N.data-*`. The newest one may be damaged (a
disk that filled up, a copy cut short): a resume then says so and takes the one before. The
directory's `checkpoint` state file is a convenience only: checkpoints are also found by their
file names, so a damaged state file never makes a run start afresh over its own checkpoints.
"""

from __future__ import annotations

import contextlib
import glob
import os
import re
import shutil
import sys

import tensorflow as tf

from tfreid.config import Config, ConfigError, from_dict, to_dict
from tfreid.errors import CheckpointError, first_line, shown
from tfreid.typed_yaml import read_yaml

# Sections and keys whose change makes the saved weights another run's (everything else,
# e.g. eval, logging and checkpoint frequency, may change between a run and its resumption).
WEIGHT_KEYS = ("data", "model", "method", "optimizer", "train.epochs", "train.steps_per_epoch")
WEIGHT_KEYS += ("train.seed", "train.mixed_precision")
# Keys under WEIGHT_KEYS that do not shape the weights: the same data may live elsewhere, and
# the pixel limit refuses files, it changes none.
MOVABLE_KEYS = ("data.root", "data.synthetic_ids", "data.max_image_pixels")
# What the weights see at test time: an evaluation or export with other values would feed the
# network inputs it was not trained on (other normalisation, size, channel encoding).
SERVING_KEYS = ("data.height", "data.width", "data.mean", "data.std", "model", "method")


@contextlib.contextmanager
def reading(path: str):
    """Turns any failure to read checkpoint `path` (damage shows as a TensorFlow error, an
    IndexError or a ValueError; other networks as an AssertionError) into CheckpointError."""
    try:
        yield
    except Exception as err:
        raise CheckpointError(f"checkpoint {path} cannot be restored: {first_line(err)}") from None


def checkpoint_paths(directory: str) -> list[str]:
    """The checkpoint prefixes in `directory`, oldest first (by the step in their name)."""
    found = set()
    with contextlib.suppress(Exception):  # a damaged state file: the names are listed below
        state = tf.train.get_checkpoint_state(directory)
        found.update(state.all_model_checkpoint_paths if state is not None else ())
    found.update(path[: -len(".index")] for path in glob.glob(os.path.join(directory, "*.index")))
    found = {os.path.join(directory, os.path.basename(p)) for p in found}
    return sorted((p for p in found if os.path.exists(p + ".index")), key=_step_of)


def _step_of(path: str) -> int:
    match = re.search(r"-(\d+)$", path)
    return int(match.group(1)) if match else -1


def restore_newest_intact(checkpoint: tf.train.Checkpoint, directory: str) -> str | None:
    """Restores the newest checkpoint of `directory` that reads completely; returns its path
    (None when there is none). A damaged one is named on stderr and the one before is tried.

    Raises:
        CheckpointError: the directory holds checkpoints and none of them restores.
    """
    paths = checkpoint_paths(directory)
    problems = []
    for path in reversed(paths):
        try:
            checkpoint.restore(path).assert_existing_objects_matched()
            return path
        except Exception as err:  # damage shows as OpError, IndexError, ValueError, ...
            problems.append(f"{os.path.basename(path)}: {first_line(err)}")
            then = "; trying the one before" if path != paths[0] else ""
            print(
                f"warning: checkpoint {path} cannot be restored ({problems[-1]}){then}",
                file=sys.stderr,
            )
    if problems:
        raise CheckpointError(
            f"no checkpoint in {directory} can be restored ({'; '.join(problems)}); move them "
            "away to start the run afresh"
        )
    return None


def remove_unfinished(directory: str) -> None:
    """Removes the saves a kill cut short in `directory` and `directory/best`, naming each.

    TensorFlow writes a checkpoint's shards to `ckpt-N_temp/` and merges them into
    `ckpt-N.index` + `ckpt-N.data-*` at the end of the save; a `_temp` directory left behind
    is never read, and only a run holding the work dir's lock calls this.
    """
    for folder in (directory, os.path.join(directory, "best")):
        for leftover in glob.glob(os.path.join(glob.escape(folder), "ckpt-*_temp")):
            ours = re.fullmatch(r"ckpt-\d+_temp", os.path.basename(leftover))
            if ours and os.path.isdir(leftover) and not os.path.islink(leftover):
                shutil.rmtree(leftover)
                print(f"removed {leftover}, left by a checkpoint save that was cut short")


def save(manager: tf.train.CheckpointManager, step: int) -> str:
    """`manager.save(step)`; a failed save (e.g. a full disk) leaves no partial files and keeps
    every earlier checkpoint.

    Raises:
        OSError: naming the checkpoint and the last good one.
    """
    prefix = os.path.join(manager.directory, f"ckpt-{step}")
    try:
        return manager.save(checkpoint_number=step)
    except (tf.errors.OpError, OSError) as err:
        for leftover in glob.glob(prefix + ".*") + glob.glob(prefix + "_temp*"):
            if os.path.isdir(leftover):
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                os.remove(leftover)
        good = [p for p in checkpoint_paths(manager.directory) if p != prefix]
        raise OSError(
            f"cannot write checkpoint {prefix}: {first_line(err)}; last good checkpoint: "
            f"{good[-1] if good else 'none'}"
        ) from None


def run_config(path: str) -> str | None:
    """The config.yaml of the run that wrote checkpoint `path` (WORKDIR/checkpoints/ckpt-N or
    WORKDIR/checkpoints/best/ckpt-N), or None when there is none."""
    directory = os.path.dirname(os.path.abspath(path))
    for workdir in (os.path.dirname(directory), os.path.dirname(os.path.dirname(directory))):
        saved = os.path.join(workdir, "config.yaml")
        if os.path.isfile(saved):
            return saved
    return None


def explained(err: CheckpointError, cfg: Config, path: str) -> CheckpointError:
    """`err` naming the config key that differs from the run's own config.yaml (beside its
    checkpoints directory), when there is one: the likely reason a checkpoint does not fit."""
    saved = run_config(path)
    if saved is not None:
        with contextlib.suppress(ConfigError):
            change = weight_key_change(cfg, saved)
            if change is not None:
                return CheckpointError(f"{err} (the config's {change})")
    return err


def check_serving_config(cfg: Config, path: str) -> None:
    """`cfg` must agree with the config.yaml of checkpoint `path`'s run on every key that shapes
    what the weights see (SERVING_KEYS), so that an evaluation or an export preprocesses as
    training did; without a config.yaml beside the checkpoint, a warning says so.

    Raises:
        ConfigError: naming the first key that differs, with both values.
    """
    saved = run_config(path)
    if saved is None:
        print(
            f"warning: no config.yaml of the run beside {path}; the config's preprocessing "
            "(data.height, width, mean, std, model) cannot be checked against its training",
            file=sys.stderr,
        )
        return
    change = key_change(cfg, saved, SERVING_KEYS)
    if change is not None:
        raise ConfigError(
            f"{change}, the config checkpoint {path} was trained with; evaluate and export with "
            "the settings the weights were trained with (set it back)"
        )


def check_resume_config(cfg: Config, workdir: str) -> None:
    """When `workdir` holds checkpoints, `cfg` must agree with its config.yaml on every key
    that shapes the weights (WEIGHT_KEYS); checked before anything in `workdir` is written.

    Raises:
        ConfigError: naming the first key that differs, with both values.
    """
    saved = os.path.join(workdir, "config.yaml")
    if not checkpoint_paths(os.path.join(workdir, "checkpoints")) or not os.path.isfile(saved):
        return
    change = weight_key_change(cfg, saved)
    if change is not None:
        raise ConfigError(
            f"{change}, whose checkpoints were trained with it; use another --workdir, or set "
            "it back to resume"
        )


def check_within(directory: str, epochs: int, per_epoch: int) -> None:
    """Raises ConfigError when `directory` holds a checkpoint past the configured steps (its
    name holds its step): the work dir holds another run's weights, whatever its config.yaml
    says (a rerun with another config checks that first, `check_resume_config`)."""
    paths = checkpoint_paths(directory)
    total = epochs * per_epoch
    if paths and _step_of(paths[-1]) > total:
        raise ConfigError(
            f"checkpoint {paths[-1]} is at step {_step_of(paths[-1])}, past the {total} steps of "
            f"this config (train.epochs {epochs} x {per_epoch} steps); it belongs to another "
            "run: use another --workdir"
        )


def weight_key_change(cfg: Config, saved: str) -> str | None:
    """ "KEY: NEW differs from OLD in SAVED" for the first key shaping the weights on which
    `cfg` and the config file `saved` disagree, or None."""
    return key_change(cfg, saved, WEIGHT_KEYS)


def key_change(cfg: Config, saved: str, keys: tuple[str, ...]) -> str | None:
    """ "KEY: NEW differs from OLD in SAVED" for the first key under `keys` (not a
    MOVABLE_KEYS one) on which `cfg` and the config file `saved` disagree, or None. A key the
    saved file lacks (written by an earlier version) counts with its default."""
    try:
        old = read_yaml(saved)
    except ConfigError as err:
        raise ConfigError(f"{saved} cannot be read to compare with: {first_line(err)}") from None
    with contextlib.suppress(ConfigError):
        old = to_dict(from_dict(Config, old))
    for key, before, now in _differences(old, to_dict(cfg)):
        if _under(key, keys) and not _under(key, MOVABLE_KEYS):
            return f"{key}: {shown(now)} differs from {shown(before)} in {saved}"
    return None


def _under(key: str, prefixes: tuple[str, ...]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _differences(old, new, path=""):
    """(key path, old value, new value) for every leaf that differs."""
    if isinstance(old, dict) and isinstance(new, dict):
        for key in list(new) + [k for k in old if k not in new]:
            yield from _differences(old.get(key), new.get(key), f"{path}.{key}" if path else key)
    elif old != new:
        yield path, old, new
