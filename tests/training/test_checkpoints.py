"""tfreid.training.checkpoints: damaged checkpoints, failed saves and the resume config check."""

import os
import shutil

import pytest
import tensorflow as tf

from tfreid.config import ConfigError, save_config
from tfreid.training import checkpoints


def saved(directory, steps):
    """A checkpoint of one variable per step in `steps` (value = step); the manager."""
    value = tf.Variable(0.0)
    checkpoint = tf.train.Checkpoint(value=value)
    manager = tf.train.CheckpointManager(checkpoint, str(directory), max_to_keep=10)
    for step in steps:
        value.assign(float(step))
        manager.save(checkpoint_number=step)
    return checkpoint, value, manager


def truncate(path):
    with open(path, "rb") as f:
        data = f.read()
    with open(path, "wb") as f:
        f.write(data[: len(data) // 2])


def test_the_newest_intact_checkpoint_is_restored_and_the_damaged_one_named(tmp_path, capsys):
    checkpoint, value, _ = saved(tmp_path, [1, 2, 3])
    with open(tmp_path / "ckpt-3.index", "wb") as f:
        f.write(b"garbage")
    truncate(tmp_path / "ckpt-2.data-00000-of-00001")
    value.assign(-1.0)
    assert checkpoints.restore_newest_intact(checkpoint, str(tmp_path)) == str(tmp_path / "ckpt-1")
    assert float(value) == 1.0
    err = capsys.readouterr().err
    assert "ckpt-3 cannot be restored" in err and "ckpt-2 cannot be restored" in err


def test_no_intact_checkpoint_is_an_error_and_none_at_all_is_a_fresh_start(tmp_path):
    checkpoint, _, _ = saved(tmp_path / "run", [1])
    assert checkpoints.restore_newest_intact(checkpoint, str(tmp_path / "empty")) is None
    truncate(tmp_path / "run" / "ckpt-1.data-00000-of-00001")
    with pytest.raises(checkpoints.CheckpointError, match="no checkpoint in .* can be restored"):
        checkpoints.restore_newest_intact(checkpoint, str(tmp_path / "run"))


def test_checkpoints_are_found_without_their_state_file(tmp_path):
    """A damaged `checkpoint` state file must not make a run start afresh over its own
    checkpoints (TensorFlow then reports none)."""
    saved(tmp_path, [1, 20, 3])
    (tmp_path / "checkpoint").write_text("}}} not a proto")
    assert tf.train.latest_checkpoint(str(tmp_path)) is None
    names = [os.path.basename(p) for p in checkpoints.checkpoint_paths(str(tmp_path))]
    assert names == ["ckpt-1", "ckpt-3", "ckpt-20"]


def test_a_failed_save_leaves_no_partial_files_and_names_the_last_good_one(tmp_path, monkeypatch):
    _, _, manager = saved(tmp_path, [1])
    before = sorted(os.listdir(tmp_path))
    real_save = tf.train.CheckpointManager.save

    def full_disk(self, checkpoint_number=None):
        os.makedirs(tmp_path / "ckpt-2_temp")
        (tmp_path / "ckpt-2.data-00000-of-00001").write_bytes(b"half")
        raise tf.errors.ResourceExhaustedError(None, None, "ckpt-2_temp: No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    with pytest.raises(OSError, match=r"ckpt-2: .*No space left.*last good checkpoint: .*ckpt-1"):
        checkpoints.save(manager, 2)
    assert sorted(os.listdir(tmp_path)) == before
    monkeypatch.setattr(tf.train.CheckpointManager, "save", real_save)


def test_a_rerun_must_keep_every_key_that_shapes_the_weights(tiny_config, tmp_path):
    root = str(tmp_path / "data")
    cfg = tiny_config(root)
    save_config(cfg, str(tmp_path / "config.yaml"))
    saved(tmp_path / "checkpoints", [1])
    for allowed in (["eval.trials=2"], ["train.log_every=5"], [f"data.root={tmp_path}"]):
        checkpoints.check_resume_config(tiny_config(root, *allowed), str(tmp_path))
    for changed, key in [
        ("model.feature_dim=32", "model.feature_dim: 32 differs from 16"),
        ("optimizer.learning_rate=0.1", "optimizer.learning_rate: 0.1 differs from 0.01"),
        ("method.params.label_smoothing=0.1", "method.params.label_smoothing: 0.1 differs"),
        ("train.seed=3", "train.seed: 3 differs from 0"),
    ]:  # fmt: skip
        with pytest.raises(ConfigError, match=key):
            checkpoints.check_resume_config(tiny_config(root, changed), str(tmp_path))
    shutil.rmtree(tmp_path / "checkpoints")  # no checkpoints: any config may start the run
    checkpoints.check_resume_config(tiny_config(root, "model.feature_dim=32"), str(tmp_path))
