"""TS-GAN's two-stage run end to end on the tiny synthetic set: an IR-only teacher run, then
TS-GAN from its checkpoint (tiny generators and discriminators, 64 x 32: the joint
discriminator's smallest size), exporting only the student and evaluating it; the translation
pictures in TensorBoard and from tools/show_translations.py. (The build's refusal of a missing
or mismatching teacher is in tests/methods/test_tsgan.py.)"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tools_harness import run

from tfreid.config import save_config
from tfreid.training.run import run_training

H, W = 64, 32


@pytest.fixture(scope="module")
def two_stages(sysu_root, tiny_config, tmp_path_factory):
    """(TS-GAN config, its work dir) after a teacher run of 2 steps and a TS-GAN run of 2
    epochs of 1 step."""
    base = tmp_path_factory.mktemp("tsgan")
    teacher_cfg = tiny_config(
        sysu_root,
        "model.head=bnneck",
        "method.params.modalities=ir",
        "method.params.label_smoothing=0.1",
        "method.params.triplet_weight=1.0",
        "train.epochs=1",
        "eval=null",
    )
    run_training(teacher_cfg, str(base / "teacher"), progress=False)
    cfg = tiny_config(
        sysu_root,
        f"data.height={H}",
        f"data.width={W}",
        "model.head=bnneck",
        "model.bnneck_embedding=pooled",
        "method.name=tsgan",
        f"method.params.teacher_checkpoint={base / 'teacher' / 'checkpoints'}",
        "method.params.generator_blocks=1",
        "method.params.generator_filters=8",
        "method.params.discriminator_filters=8",
        "optimizer.name=adam",
        "optimizer.learning_rate=0.001",
        "train.steps_per_epoch=1",
        "eval.modes=[all]",
        "eval.shots=[1]",
    )
    workdir = str(base / "tsgan")
    run_training(cfg, workdir, progress=False)
    return cfg, workdir


def test_the_student_alone_is_exported_and_evaluated(two_stages):
    _, workdir = two_stages
    with open(os.path.join(workdir, "results.json")) as f:
        metrics = json.load(f)["sysu"]["all"]["single"]
    assert metrics.pop("std") is None  # one trial: no spread
    assert all(np.isfinite(v) and 0.0 <= v <= 100.0 for v in metrics.values()), metrics
    loaded = tf.saved_model.load(os.path.join(workdir, "saved_model"))
    names = {v.name for v in loaded.variables}
    assert names and not any(part in name for name in names for part in ("gen_", "disc_"))
    images = tf.zeros((2, H, W, 3), tf.uint8)
    served = loaded.signatures["serving_default"](image=images, modality=tf.constant([0, 1]))
    assert served["embedding"].shape == (2, 512)  # ResNet-6's GAP feature, before the neck


def test_losses_and_translations_are_logged_every_epoch(two_stages):
    _, workdir = two_stages
    steps, pictures = {}, []
    logdir = os.path.join(workdir, "logs")
    for name in os.listdir(logdir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(logdir, name)):
            for value in event.summary.value:
                steps.setdefault(value.tag, set()).add(event.step)
                if value.tag == "translations":
                    pictures.append(tf.io.decode_image(tf.make_ndarray(value.tensor)[2]))
    assert steps["translations"] == {1, 2}  # after each of the two epochs
    # One row per training identity with both modalities (6 of the 8), five columns.
    assert pictures[0].shape == (6 * H, 5 * W, 3)
    for name in ("generators", "discriminators", "gan", "ts_cd", "cycle_rgb", "d_ir_fake"):
        assert steps[f"loss/{name}"] == {1, 2}, name
    assert {"learning_rate/model", "learning_rate/gen", "learning_rate/disc"} <= set(steps)


def test_show_translations_writes_the_grid_from_a_checkpoint(two_stages, tmp_path):
    cfg, workdir = two_stages
    config, output = str(tmp_path / "tsgan.yaml"), str(tmp_path / "grid.png")
    save_config(cfg, config)
    checkpoint = os.path.join(workdir, "checkpoints")
    result = run(
        "show_translations", "--config", config, "--checkpoint", checkpoint,
        "--output", output, "--count", "3",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert np.asarray(Image.open(output)).shape == (3 * H, 5 * W, 3)
    assert "3 rows (rgb, fake_ir, reconstructed_rgb, ir, fake_rgb)" in result.stdout
