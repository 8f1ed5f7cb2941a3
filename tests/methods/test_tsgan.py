"""TS-GAN's step against Algorithm 1 worked out independently, its three updates, the teacher.

Steps run eagerly (no tracing) on the harness's tiny TS-GAN: ResNet-6 student and teacher,
one-block generators and discriminators of width 8, 64 x 32 images, P = 4 ids x K = 2 pairs.
"""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf
from method_harness import CLASSES, TINY_TSGAN, build, random_batch, tiny_config, tiny_teacher
from references import cross_entropy

from tfreid.config import IMAGENET_MEAN, IMAGENET_STD, ConfigError, load_config
from tfreid.losses import batch_hard_triplet
from tfreid.methods import base, resolve, softmax, tsgan
from tfreid.methods.base import Parts
from tfreid.models.structures import build_model
from tfreid.models.translator import Translator
from tfreid.training.checkpoint_keys import variables_by_path
from tfreid.training.loop import checkpoint_for

H, W = 64, 32
MEAN, STD = np.array(IMAGENET_MEAN), np.array(IMAGENET_STD)


def built(*overrides):
    return build(tiny_config(*TINY_TSGAN, *overrides))


def batch(seed=0):
    return random_batch(seed, height=H, width=W)


def snapshot(parts) -> dict[str, list[np.ndarray]]:
    return {name: [w.copy() for w in net.get_weights()] for name, net in parts.nets.items()}


def changed(before, after) -> set[str]:
    return {
        name
        for name in before
        if any(not np.array_equal(a, b) for a, b in zip(before[name], after[name], strict=True))
    }


def test_each_update_changes_only_its_own_networks(monkeypatch):
    """Snapshots of every network at the start and after each update: phase 1 touches only
    the generators (FE_S runs frozen), phase 2 only the student (its weights and batch-norm
    statistics), phase 3 only the discriminators; the teacher never changes."""
    _, params, parts = built()
    snapshots = [snapshot(parts)]
    update = base.update

    def recording(*args):
        update(*args)
        snapshots.append(snapshot(parts))

    monkeypatch.setattr(base, "update", recording)
    tsgan.train_step(parts, batch(), params)
    phases = [changed(a, b) for a, b in zip(snapshots, snapshots[1:])]
    assert phases == [{"gen_ir", "gen_rgb"}, {"model"}, {"disc_ir", "disc_rgb"}]
    assert "teacher" in parts.nets and not parts.nets["teacher"].trainable_variables


class Spy(keras.Model):
    """A network that records its inputs (as NumPy) and delegates to the wrapped one."""

    def __init__(self, inner):
        super().__init__(name=f"{inner.name}_spy")
        self.inner = inner
        self.calls = []
        self.built = True

    def call(self, inputs, training=False):
        self.calls.append([np.asarray(x) for x in inputs])
        return self.inner(inputs, training=training)


def softplus(x):
    return np.logaddexp(0.0, np.asarray(x, np.float64))


def to_gan(normalised):
    return 2.0 * (np.asarray(normalised) * STD + MEAN) - 1.0


def feature_map_term(target, student, reduction) -> float:
    """Eq. 13-15 averaged over the batch: per image the squared L2 norm of the map difference
    ("sum", as printed) or its element mean ("mean")."""
    squared = (np.asarray(target, np.float64) - np.asarray(student, np.float64)) ** 2
    per_image = squared.reshape(len(squared), -1)
    return float((per_image.sum(axis=1) if reduction == "sum" else per_image.mean(axis=1)).mean())


def algorithm_1(parts, data, reduction) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Every logged loss of one step from the networks as they are, written out from Eq. 1-16
    with the fake set of C2 and the TS terms' `reduction`; and the tensors D_I must see in
    step 3."""
    nets = parts.nets
    d_i, d_r, student, teacher = (nets[n] for n in ("disc_ir", "disc_rgb", "model", "teacher"))
    x_r, x_i = data["rgb"]["image"].numpy(), data["ir"]["image"].numpy()
    rgb, ir = to_gan(x_r), to_gan(x_i)
    fake_ir, fake_rgb = nets["gen_ir"](rgb).numpy(), nets["gen_rgb"](ir).numpy()
    fake_ir_normalised = ((fake_ir + 1.0) / 2.0 - MEAN) / STD
    frozen = np.asarray(student.feature_map(fake_ir_normalised, np.ones(len(x_r), np.int32)))
    expected = {
        "loss/g_adversarial_ir": softplus(-d_i([fake_ir, frozen])).mean(),
        "loss/g_adversarial_rgb": softplus(-d_r(fake_rgb)).mean(),
        "loss/cycle_rgb": np.abs(nets["gen_rgb"](fake_ir) - rgb).mean(),
        "loss/cycle_ir": np.abs(nets["gen_ir"](fake_rgb) - ir).mean(),
    }
    expected["loss/generators"] = (
        expected["loss/g_adversarial_ir"]
        + expected["loss/g_adversarial_rgb"]
        + 10.0 * (expected["loss/cycle_rgb"] + expected["loss/cycle_ir"])
    )
    labels = np.concatenate([data["rgb"]["pid"], data["ir"]["pid"], data["rgb"]["pid"]])
    inputs = {"rgb": x_r, "ir": np.concatenate([x_i, fake_ir_normalised])}
    outputs = {k: np.asarray(v) for k, v in student(inputs, training=True).items()}
    rgb_map, real_map, fake_map = np.split(outputs["feature_map"], 3)
    m_images = np.concatenate([fake_ir, fake_ir, ir])
    m_maps = np.concatenate([fake_map, real_map, fake_map])
    teacher_real, teacher_fake = np.asarray(teacher(x_i)), np.asarray(teacher(fake_ir_normalised))
    expected.update(
        {
            "loss/id": cross_entropy(labels, outputs["logits"], 0.1).mean(),
            "loss/triplet": np.mean(batch_hard_triplet(labels, outputs["features"], 0.3)),
            "loss/gan": softplus(-d_i([m_images, m_maps])).mean(),
            "loss/ts_cd": feature_map_term(teacher_fake, rgb_map, reduction),
            "loss/ts_real_ir": feature_map_term(teacher_real, real_map, reduction),
            "loss/ts_fake_ir": feature_map_term(teacher_fake, fake_map, reduction),
        }
    )
    expected["loss/total"] = (
        3.0 * expected["loss/id"]
        + expected["loss/triplet"]
        + 0.1 * expected["loss/gan"]
        + 0.006 * expected["loss/ts_cd"]
        + 0.003 * (expected["loss/ts_real_ir"] + expected["loss/ts_fake_ir"])
    )
    expected.update(
        {
            "loss/d_ir_real": softplus(-d_i([ir, real_map])).mean(),
            "loss/d_ir_fake": softplus(d_i([m_images, m_maps])).mean(),
            "loss/d_rgb_real": softplus(-d_r(rgb)).mean(),
            "loss/d_rgb_fake": softplus(d_r(fake_rgb)).mean(),
        }
    )
    expected["loss/discriminators"] = sum(expected[f"loss/d_{n}"] for n in DISCRIMINATOR_TERMS)
    return expected, {"real": ir, "fake": fake_ir, "real_map": real_map, "fake_map": fake_map}


DISCRIMINATOR_TERMS = ("ir_real", "ir_fake", "rgb_real", "rgb_fake")


@pytest.mark.parametrize("reduction", ["sum", "mean"])
def test_every_loss_is_algorithm_1_and_d_i_judges_the_real_pair_and_m(reduction):
    _, params, parts = built(f"method.params.ts_reduction={reduction}")
    data = batch(1)
    initial = snapshot(parts)
    expected, seen = algorithm_1(parts, data, reduction)
    for name, net in parts.nets.items():  # the reference moved the student's BN statistics
        net.set_weights(initial[name])
    spy = parts.nets["disc_ir"] = Spy(parts.nets["disc_ir"])
    losses = {k: float(v) for k, v in tsgan.train_step(parts, data, params).items()}
    assert losses.keys() == expected.keys()
    for name, value in expected.items():
        np.testing.assert_allclose(losses[name], value, rtol=1e-4, atol=1e-6, err_msg=name)
    # D_I: the generators' fake pair, M for the student, then the real pair and M (step 3).
    assert len(spy.calls) == 4
    (real_image, real_map), (m_images, m_maps) = spy.calls[2], spy.calls[3]
    close = {"rtol": 1e-4, "atol": 1e-4}
    np.testing.assert_allclose(real_image, seen["real"], **close)
    np.testing.assert_allclose(real_map, seen["real_map"], **close)
    fake, fake_map = seen["fake"], seen["fake_map"]
    np.testing.assert_allclose(m_images, np.concatenate([fake, fake, seen["real"]]), **close)
    np.testing.assert_allclose(m_maps, np.concatenate([fake_map, real_map, fake_map]), **close)
    assert np.abs(fake_map - real_map).max() > 1e-3  # the three pairs really differ
    for student_input, discriminator_input in zip(spy.calls[1], spy.calls[3], strict=True):
        np.testing.assert_allclose(student_input, discriminator_input, **close)


def test_fake_set_pairs_rows_in_the_order_of_c2():
    real, fake = np.full((2, 4, 4, 3), 1.0), np.full((2, 4, 4, 3), 2.0)
    real_map, fake_map = np.full((2, 1, 1, 5), 10.0), np.full((2, 1, 1, 5), 20.0)
    images, maps = tsgan.fake_set(real, fake, real_map, fake_map)
    np.testing.assert_array_equal(images[:, 0, 0, 0], [2, 2, 2, 2, 1, 1])
    np.testing.assert_array_equal(maps[:, 0, 0, 0], [20, 20, 10, 10, 20, 20])


def test_ordinary_discriminator_with_the_cd_term_only_under_lsgan():
    """Table II's "ordinary D + CD": D_I sees images alone, so the student has no GAN term."""
    _, params, parts = built(
        "method.params.discriminator=ordinary",
        "method.params.ts_terms=cd",
        "method.params.objective=lsgan",
    )
    assert len(parts.nets["disc_ir"].inputs) == 1
    data = batch(2)
    real_rgb = to_gan(data["rgb"]["image"])
    expected_rgb_real = np.mean((np.asarray(parts.nets["disc_rgb"](real_rgb)) - 1.0) ** 2)
    losses = {k: float(v) for k, v in tsgan.train_step(parts, data, params).items()}
    student = {"loss/total", "loss/id", "loss/triplet", "loss/ts_cd"}
    generators = {f"loss/{n}" for n in ("generators", "g_adversarial_ir", "g_adversarial_rgb")}
    generators |= {"loss/cycle_rgb", "loss/cycle_ir"}
    discriminators = {"loss/discriminators"} | {f"loss/d_{n}" for n in DISCRIMINATOR_TERMS}
    assert set(losses) == student | generators | discriminators
    total = 3.0 * losses["loss/id"] + losses["loss/triplet"] + 0.006 * losses["loss/ts_cd"]
    np.testing.assert_allclose(losses["loss/total"], total, rtol=1e-6)
    np.testing.assert_allclose(losses["loss/d_rgb_real"], expected_rgb_real, rtol=1e-5)


def test_backbone_only_trains_the_student_alone():
    _, params, parts = built("method.params.gan=false", "method.params.ts_terms=none")
    assert set(parts.nets) == set(parts.optimizers) == {"model"}
    losses = {k: float(v) for k, v in tsgan.train_step(parts, batch(3), params).items()}
    assert set(losses) == {"loss/total", "loss/id", "loss/triplet"}
    total = 3.0 * losses["loss/id"] + losses["loss/triplet"]
    np.testing.assert_allclose(losses["loss/total"], total, rtol=1e-6)


def test_the_teacher_is_the_checkpoints_trunk_frozen_in_inference_mode():
    _, _, parts = built()
    teacher = parts.nets["teacher"]
    assert not teacher.trainable_variables
    source_cfg = load_config(None, ["model.backbone=resnet6", "model.head=bnneck"])
    source = build_model(source_cfg, CLASSES, feature_map_stage=5)
    restored = tf.train.Checkpoint(net_model=variables_by_path(source)).read(tiny_teacher())
    restored.assert_existing_objects_matched()
    x = np.random.default_rng(4).normal(size=(4, H, W, 3)).astype(np.float32)
    expected = source.feature_map(x, np.ones(4, np.int32), training=False)
    # Even when asked to train, the frozen batch norms keep their moving statistics.
    np.testing.assert_allclose(teacher(x, training=True), expected, rtol=1e-5, atol=1e-5)


def test_a_missing_or_mismatching_teacher_stops_the_build(tmp_path):
    missing = str(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match=f"teacher_checkpoint: no checkpoint at {missing}"):
        built(f"method.params.teacher_checkpoint={missing}")
    # A zero-padding model's stem takes 2 channels: not a teacher of a 3-channel student.
    padded = load_config(None, ["model.backbone=resnet6", "model.encoding=zero_padding"])
    other = build_model(padded, 2)
    wrong = checkpoint_for(Parts({"model": other}, {}, other)).write(str(tmp_path / "wrong"))
    with pytest.raises(ConfigError, match=r"teacher_checkpoint: .*wrong does not hold a teacher"):
        built(f"method.params.teacher_checkpoint={wrong}")
    # Restoring a TS-GAN run (no optimizers) reads the teacher from that run, not from here.
    cfg = tiny_config(*TINY_TSGAN, f"method.params.teacher_checkpoint={missing}")
    method, params = resolve(cfg)
    parts = method.build(cfg, params, CLASSES, None)
    assert "teacher" in parts.nets and parts.optimizers == {}


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["method.params.gan=false"], "method.params.ts_terms: the teacher-student terms need"),
        (["method.params.teacher_checkpoint=null"], "teacher_checkpoint: ts_terms 'all' needs"),
        (["method.params.objective=wgan"], "method.params.objective: got 'wgan'"),
    ],
)
def test_bad_params_name_the_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve(tiny_config(*TINY_TSGAN, *overrides))


@pytest.mark.parametrize(
    "overrides",
    [
        ["model.structure=two_stream"],
        ["model.encoding=gray"],
        ["model.backbone=gated_resnet50"],
        ["model.network=mlfn", "model.backbone=resnet50"],
    ],
)
def test_the_student_must_be_a_plain_one_stream_backbone(overrides):
    """Refused by `resolve`, before a build (and so before any data is read)."""
    cfg = load_config(None, ["method.name=tsgan", "method.params.ts_terms=none", *overrides])
    with pytest.raises(ConfigError, match="^model: method tsgan's student and teacher are one-"):
        resolve(cfg)


def test_translator_converts_between_the_pipeline_and_minus_one_to_one():
    translator = Translator(keras.Sequential([keras.layers.Identity()]), MEAN, STD)
    pixels = np.array([0.0, 1.0, 0.25]).reshape(1, 1, 3, 1) * np.ones((1, 1, 1, 3))
    normalised = ((pixels - MEAN) / STD).astype(np.float32)
    np.testing.assert_allclose(translator.to_gan(normalised), 2.0 * pixels - 1.0, atol=1e-6)
    back = translator.to_backbone(translator.to_gan(normalised))
    np.testing.assert_allclose(back, normalised, atol=1e-5)
    with pytest.raises(ValueError, match="mean and std must be 3 values"):
        Translator(translator.generator, [0.5], STD)


# The TS terms' share ||g_TS|| / (||g_TS|| + ||g_ReID||) of the gradient on FE_S at the start,
# at the default reading, in the configuration of the test below (docs/loss_scales.md).
TS_SHARE_BAND = (0.5, 0.99)


def trained_teacher(directory, steps=5):
    """An IR teacher (ResNet-6 BoT baseline at 64 x 32) trained `steps` plain-SGD steps from a
    start the student then takes too (the paper's teacher and student share the ImageNet
    start): (checkpoint prefix, its stages' start weights)."""
    cfg = tiny_config(
        f"data.height={H}",
        f"data.width={W}",
        "model.head=bnneck",
        "method.params.modalities=ir",
        "method.params.label_smoothing=0.1",
        "method.params.triplet_weight=1.0",
    )
    keras.utils.set_random_seed(0)
    _, params, parts = build(cfg)
    start = [stage.get_weights() for stage in parts.nets["model"].stages()]
    for seed in range(steps):
        softmax.train_step(parts, random_batch(100 + seed, height=H, width=W), params)
    return checkpoint_for(parts).write(str(directory / "teacher")), start


def test_the_ts_terms_carry_the_stated_share_of_the_student_gradient(tmp_path):
    """At the default (the squared L2 norms Eq. 13-15 print) the TS terms and L_ReID both
    train FE_S: the TS share lies in TS_SHARE_BAND. The element mean would leave the TS
    terms under 1% of it: the distillation effectively switched off."""
    path, start = trained_teacher(tmp_path)
    keras.utils.set_random_seed(0)
    _, params, parts = built(f"method.params.teacher_checkpoint={path}")
    student = parts.nets["model"]
    for stage, weights in zip(student.stages(), start, strict=True):
        stage.set_weights(weights)
    fe_s = [
        v for s in student.shared[: student.feature_map_stage + 1] for v in s.trainable_variables
    ]
    inputs = tsgan.student_inputs(parts, batch(5))
    shares = {}
    for reduction in ("sum", "mean"):
        read = dataclasses.replace(params, ts_reduction=reduction)
        _, (norms,) = base.gradient_norms(
            lambda p=read: tsgan.student_objective(parts, *inputs, p)[0], fe_s
        )
        shares[reduction] = norms["ts"] / (norms["ts"] + norms["reid"])
    assert params.ts_reduction == "sum"
    assert TS_SHARE_BAND[0] <= shares["sum"] <= TS_SHARE_BAND[1], shares
    assert shares["mean"] < 0.01, shares
