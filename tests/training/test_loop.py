"""The generic training loop: resume, NaN guard, decode failures, checkpoints, logs and the
run's config checks."""

import dataclasses
import json
import os
import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

from tfreid.data.samples import DatasetError
from tfreid.export import embedding_function
from tfreid.methods import METHODS, softmax
from tfreid.training.loop import TrainingDiverged, restore_parts, train
from tfreid.training.run import run_training

WHAT_TO_DO = "(what to do: docs/reliability.md#divergence)"

STEPS_PER_EPOCH, TOTAL = 2, 4  # tiny_config: 2 epochs of 2 steps


class Crash(Exception):
    """Stands in for a killed process."""


def checkpoint_names(workdir):
    directory = os.path.join(workdir, "checkpoints")
    return sorted(name.removesuffix(".index") for name in os.listdir(directory) if ".index" in name)


def saved_step(prefix):
    return int(tf.train.load_variable(prefix, "step/.ATTRIBUTES/VARIABLE_VALUE"))


def event_scalars(logdir):
    """{tag: {step: value}} from every TensorBoard events file in `logdir`."""
    scalars = {}
    for name in os.listdir(logdir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(logdir, name)):
            for value in event.summary.value:
                number = float(tf.make_ndarray(value.tensor))
                scalars.setdefault(value.tag, {})[event.step] = number
    return scalars


def random_uint8_batch(seed=0, size=6, height=40, width=24):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (size, height, width, 3), dtype=np.uint8)
    modality = np.array([i % 2 for i in range(size)], np.int32)
    return tf.constant(images), tf.constant(modality)


def test_interrupted_training_resumes_to_the_same_weights(straight_run, tmp_path, capsys):
    cfg, _, straight = straight_run
    workdir = str(tmp_path)

    def crash_after_first_epoch(epoch, parts, writer):
        raise Crash(f"killed after epoch {epoch}")

    with pytest.raises(Crash, match="epoch 1"):
        train(cfg, workdir, progress=False, on_epoch=crash_after_first_epoch)
    assert checkpoint_names(workdir) == [f"ckpt-{STEPS_PER_EPOCH}"]
    capsys.readouterr()

    resumed = train(cfg, workdir, progress=False)
    assert f"(step {STEPS_PER_EPOCH} of {TOTAL})" in capsys.readouterr().out
    assert checkpoint_names(workdir) == [f"ckpt-{STEPS_PER_EPOCH}", f"ckpt-{TOTAL}"]
    assert saved_step(os.path.join(workdir, "checkpoints", f"ckpt-{TOTAL}")) == TOTAL
    assert int(resumed.optimizers["model"].iterations) == TOTAL
    pairs = [
        (resumed.nets["model"].variables, straight.nets["model"].variables),
        (resumed.optimizers["model"].variables, straight.optimizers["model"].variables),
    ]
    for ours, theirs in pairs:
        assert len(ours) == len(theirs)
        for a, b in zip(ours, theirs):
            np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=a.path)


def test_every_named_loss_and_the_learning_rate_are_logged_each_step(straight_run):
    _, workdir, _ = straight_run
    scalars = event_scalars(os.path.join(workdir, "logs"))
    for tag in ("loss/total", "loss/id", "learning_rate/model"):
        assert sorted(scalars[tag]) == list(range(1, TOTAL + 1)), tag
        assert all(np.isfinite(v) for v in scalars[tag].values()), tag
    assert scalars["loss/total"] == scalars["loss/id"]  # softmax has only the identity loss
    # The rate each update used: lr 0.01, 1 warm-up epoch (0.005, 0.01), then cosine over the
    # 2 remaining updates (0.01, 0.005).
    logged = [scalars["learning_rate/model"][step] for step in range(1, TOTAL + 1)]
    np.testing.assert_allclose(logged, [0.005, 0.01, 0.01, 0.005], rtol=1e-6)
    assert saved_step(tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints"))) == TOTAL


def test_restored_checkpoint_embeds_like_the_trained_model(straight_run, tmp_path):
    """The checkpoint holds every weight: a pretrained file the config names is neither read
    nor needed (tools/test.py on a paper config fetches nothing)."""
    cfg, workdir, parts = straight_run
    images, modality = random_uint8_batch()
    expected = embedding_function(parts, cfg.data)(images, modality).numpy()
    absent = str(tmp_path / "absent.h5")
    cfg = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, pretrained_weights=absent))
    restored = restore_parts(cfg, os.path.join(workdir, "checkpoints"))
    got = embedding_function(restored, cfg.data)(images, modality).numpy()
    # Equal only if every variable came back, BatchNorm moving statistics included.
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_restore_parts_names_a_missing_checkpoint(tiny_config, sysu_root, tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        restore_parts(tiny_config(sysu_root), missing)


def softmax_with(train_step):
    """The softmax method with another training step."""
    return types.SimpleNamespace(
        Params=softmax.Params, check=softmax.check, build=softmax.build, train_step=train_step
    )


def nan_after_first_epoch_method():
    """softmax whose total loss becomes NaN once the second epoch starts."""

    def train_step(parts, batch, params):
        losses = softmax.train_step(parts, batch, params)
        updates = parts.optimizers["model"].iterations  # including this step's
        poison = tf.where(updates > STEPS_PER_EPOCH, float("nan"), 0.0)
        return {**losses, "loss/total": losses["loss/total"] + poison}

    return softmax_with(train_step)


def test_non_finite_loss_stops_training_and_keeps_the_last_good_checkpoint(
    tiny_config, regdb_root, tmp_path, monkeypatch
):
    monkeypatch.setitem(METHODS, "nan_softmax", nan_after_first_epoch_method())
    cfg = tiny_config(
        regdb_root, "method.name=nan_softmax", "train.checkpoint_every=1", dataset="regdb"
    )
    workdir = str(tmp_path)
    diverged = STEPS_PER_EPOCH + 1
    good = os.path.join(workdir, "checkpoints", f"ckpt-{STEPS_PER_EPOCH}")
    with pytest.raises(TrainingDiverged) as caught:
        train(cfg, workdir, progress=False)
    message = str(caught.value)
    assert f"step {diverged}:" in message and "loss/total=nan" in message
    assert message.endswith(f"last good checkpoint: {good} {WHAT_TO_DO}")
    # Every good step was checkpointed (checkpoint_every=1); the diverged one was not.
    assert checkpoint_names(workdir) == [f"ckpt-{s}" for s in range(1, diverged)]
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")) == good
    assert saved_step(good) == STEPS_PER_EPOCH
    parts = restore_parts(cfg, good)
    for variable in parts.nets["model"].variables:
        assert np.isfinite(variable.numpy()).all(), variable.path


def test_non_finite_weights_with_finite_losses_are_not_checkpointed(
    tiny_config, regdb_root, tmp_path, monkeypatch
):
    """A NaN weight the losses do not show (written into the model's last weight after the
    last step's update) stops training at the save, keeping the last good checkpoint."""
    poisoned_paths = []

    def train_step(parts, batch, params):
        losses = softmax.train_step(parts, batch, params)
        weight = parts.nets["model"].trainable_weights[-1]
        poisoned_paths.append(weight.path)
        poisoned = parts.optimizers["model"].iterations == TOTAL
        weight.assign(tf.where(poisoned, tf.fill(tf.shape(weight), float("nan")), weight))
        return losses

    monkeypatch.setitem(METHODS, "nan_weights", softmax_with(train_step))
    cfg = tiny_config(regdb_root, "method.name=nan_weights", dataset="regdb")
    workdir = str(tmp_path)
    good = os.path.join(workdir, "checkpoints", f"ckpt-{STEPS_PER_EPOCH}")
    with pytest.raises(TrainingDiverged) as caught:
        train(cfg, workdir, progress=False)
    message = str(caught.value)
    assert message.startswith(f"step {TOTAL}: non-finite weights (")
    assert poisoned_paths[0] in message
    assert message.endswith(f"last good checkpoint: {good} {WHAT_TO_DO}")
    assert tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints")) == good


def test_undecodable_training_image_is_named(tiny_config, sysu_root, tmp_path):
    """One IR image of identity 1 is left, and it is garbage with a JPEG header; every
    training identity is in the first batch, so the first step must read it."""
    root = str(tmp_path / "sysu")
    shutil.copytree(sysu_root, root)
    ir_folders = [
        os.path.join(root, cam, "0001")
        for cam in ("cam3", "cam6")
        if os.path.isdir(os.path.join(root, cam, "0001"))
    ]
    for folder in ir_folders[1:]:
        shutil.rmtree(folder)
    names = sorted(os.listdir(ir_folders[0]))
    for name in names[1:]:
        os.remove(os.path.join(ir_folders[0], name))
    bad = os.path.join(ir_folders[0], names[0])
    with open(bad, "wb") as f:
        f.write(b"\xff\xd8\xff\xe0" + b"not a JPEG body" * 20)
    # 6 training identities (train + val ids), all in one batch.
    cfg = tiny_config(root, "data.identities_per_batch=6", "data.images_per_identity=1")
    with pytest.raises(DatasetError) as caught:
        train(cfg, str(tmp_path / "run"), progress=False)
    message = str(caught.value)
    assert "cannot be decoded" in message and bad in message
    assert message.count(root) == 1  # only the bad file is named


def test_an_error_in_the_step_is_not_blamed_on_the_data(
    tiny_config, sysu_root, tmp_path, monkeypatch
):
    def broken_step(parts, batch, params):
        raise tf.errors.InvalidArgumentError(None, None, "shapes do not match in the method")

    def no_scan(*args, **kwargs):
        raise AssertionError("the training images were scanned for a step error")

    monkeypatch.setitem(METHODS, "broken", softmax_with(broken_step))
    monkeypatch.setattr("tfreid.data.check.find_bad_images", no_scan)
    with pytest.raises(tf.errors.InvalidArgumentError, match="shapes do not match"):
        train(tiny_config(sysu_root, "method.name=broken"), str(tmp_path), progress=False)


def test_regdb_run_validates_on_test_keeps_the_best_and_reports(tiny_config, regdb_root, tmp_path):
    cfg = tiny_config(
        regdb_root,
        "train.epochs=1",
        "train.eval_every=1",
        "train.select_on_test=true",
        dataset="regdb",
    )
    workdir = str(tmp_path)
    run_training(cfg, workdir, progress=False)

    best = tf.train.latest_checkpoint(os.path.join(workdir, "checkpoints", "best"))
    assert best is not None and best.endswith("ckpt-1")  # named by epoch
    scalars = event_scalars(os.path.join(workdir, "logs"))
    assert set(scalars["val/rank1"]) == set(scalars["val/mAP"]) == {1}
    assert 0.0 <= scalars["val/rank1"][1] <= 1.0
    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    assert list(results) == ["dataset", "method", "trials", "regdb"]
    assert (results["dataset"], results["method"], results["trials"]) == ("regdb", "softmax", [1])
    assert set(results["regdb"]) == {"visible_to_thermal", "thermal_to_visible"}
    # Validation ran the same protocol as the test on the same (test) split, with the same
    # weights, so its numbers are the test's visible -> thermal ones.
    v2t = results["regdb"]["visible_to_thermal"]
    assert v2t["rank1"] == round(100 * scalars["val/rank1"][1], 2)
    assert v2t["mAP"] == round(100 * scalars["val/mAP"][1], 2)


def test_interrupted_synthetic_generation_leaves_nothing_that_looks_like_data(
    tiny_config, tmp_path, monkeypatch
):
    """The synthetic set appears at data.root only once complete; a rerun starts over."""
    from tfreid.data import synthetic
    from tfreid.training.run import prepare_data

    root = tmp_path / "sysu"
    cfg = tiny_config(str(root), "data.synthetic_ids=5")
    real_draw = synthetic.draw_person
    drawn = []

    def interrupted_on_the_third_person(*args, **kwargs):
        drawn.append(1)
        if len(drawn) == 3:
            raise KeyboardInterrupt
        return real_draw(*args, **kwargs)

    monkeypatch.setattr(synthetic, "draw_person", interrupted_on_the_third_person)
    with pytest.raises(KeyboardInterrupt):
        prepare_data(cfg)
    assert os.listdir(tmp_path) == []  # neither the set nor a partial one

    monkeypatch.setattr(synthetic, "draw_person", real_draw)
    prepare_data(cfg)
    assert sorted(os.listdir(root)) == ["cam1", "cam2", "cam3", "cam4", "cam5", "cam6", "exp"]
    assert os.listdir(tmp_path) == ["sysu"]


@pytest.mark.parametrize("policy, dtype", [("float16", "float16"), ("bfloat16", "bfloat16")])
def test_mixed_precision_trains_and_leaves_the_global_policy_alone(
    tiny_config, sysu_root, tmp_path, policy, dtype
):
    import keras

    # 64x32: block6's input is 4x2, not one pixel wide (docs/reliability.md#divergence).
    size = ["data.height=64", "data.width=32"]
    cfg = tiny_config(sysu_root, f"train.mixed_precision={policy}", "train.epochs=1", *size)
    parts = train(cfg, str(tmp_path), progress=False)
    model = parts.nets["model"]
    fc = model.head.fc
    assert fc.compute_dtype == dtype and fc.kernel.dtype == "float32"
    assert keras.mixed_precision.global_policy().name == "float32"
    scaled = isinstance(parts.optimizers["model"], keras.optimizers.LossScaleOptimizer)
    assert scaled == (policy == "float16")  # bfloat16 has float32's range: no loss scaling
    loss = event_scalars(os.path.join(str(tmp_path), "logs"))["loss/total"]
    assert sorted(loss) == [1, 2] and all(np.isfinite(v) for v in loss.values())
    # Evaluation restores the model in the training policy and serves float32 embeddings.
    restored = restore_parts(cfg, os.path.join(str(tmp_path), "checkpoints"))
    assert restored.serving.head.fc.compute_dtype == dtype
    images, modality = random_uint8_batch()
    assert embedding_function(restored, cfg.data)(images, modality).dtype == tf.float32
