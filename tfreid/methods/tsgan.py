"""TS-GAN, Zhang et al., Pattern Recognit. Lett. 2021: Algorithm 1 as one step.

How the paper is read, labels C1-C10: docs/methods/tsgan.md.

Nets (`tfreid.methods.tsgan_networks`): the student "model" (a ReID model of the `model`
section that also returns its FE_S map, serves with the 2048-d GAP feature V), G_I "gen_ir",
G_R "gen_rgb", D_I "disc_ir", D_R "disc_rgb" and the frozen IR teacher FE_T "teacher".
Optimizers: "model" (the `optimizer` section), "gen" and "disc" (Adam, `gan_learning_rate`,
`gan_beta_1`; CycleGAN's 2e-4 and 0.5, C7). Batches pair row k of the RGB and the IR images
(same identity, the pipeline's identity-major order), and one step is (the paper's Algorithm 1):

1. Generators: X_I' = G_I(X_R), X_R' = G_R(X_I); L_G = L_adv(D_I(X_I', f(X_I'))) + L_adv(D_R(X_R'))
   + ω (L1 cycle of both directions) (Eq. 1, 6, 7); f = FE_S, frozen: inference mode, not
   updated, the gradient passes through it into G_I (C4). Updates G_I and G_R only.
2. Student on X_R, X_I and X_I' (X_I' generated in step 1, a constant here, labelled with its
   RGB identity, C8): L_ReID = λ1 ID + λ2 triplet + λ3 L_adv(D_I(M) -> real) (Eq. 8-12), plus
   L_TS = α_c CD + α_s (RealIR + FakeIR) against the teacher (Eq. 13-16), each term the squared
   L2 norm of a map difference per image (`ts_reduction`), averaged over the batch. Updates the
   student.
3. Discriminators on the real pair (X_I, f(X_I)) and the fake set M = (X_I', f(X_I')),
   (X_I', f(X_I)), (X_I, f(X_I')) (C2), the maps of step 2; D_R on X_R vs X_R' (Eq. 2-5).
   Updates D_I and D_R only.

Ablations (Table II): `discriminator: ordinary` (D_I sees the image alone; the student then
has no GAN term, D_I's verdict no longer depends on it), `ts_terms` all / cd / none, and
`gan: false`, the backbone alone (λ1 ID + λ2 triplet on X_R and X_I; needs `ts_terms: none`).
Every term is logged: "loss/total" is the student's objective (L_ReID + L_TS), "loss/generators"
and "loss/discriminators" those of steps 1 and 3.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import tensorflow as tf

from tfreid.config import ConfigError, OptimizerConfig
from tfreid.figures.translations import translation_logger
from tfreid.losses import (
    batch_hard_triplet,
    cycle_loss,
    discriminator_loss,
    feature_map_loss,
    generator_loss,
)
from tfreid.methods import base
from tfreid.methods.tsgan_networks import (
    build_teacher,
    check_student,
    feature_map_stage,
    gan_networks,
    restore_teacher,
)
from tfreid.typed_yaml import bounded


@dataclass
class Params:
    teacher_checkpoint: str | None = None  # the IR teacher's run: checkpoint prefix or directory
    gan: bool = True  # False: the backbone alone, Table II's first row
    discriminator: Literal["joint", "ordinary"] = "joint"  # D_I, Table II
    ts_terms: Literal["all", "cd", "none"] = "all"  # teacher-student terms, Table II
    objective: Literal["vanilla", "lsgan"] = "vanilla"  # the paper's log-loss, or LSGAN (C3)
    id_weight: float = bounded(3.0, low=0.0)  # λ1
    triplet_weight: float = bounded(1.0, low=0.0)  # λ2
    gan_weight: float = bounded(0.1, low=0.0)  # λ3
    triplet_margin: float = bounded(0.3, low=0.0)
    label_smoothing: float = bounded(0.1, low=0.0, high=1.0)  # ε (C7)
    cycle_weight: float = bounded(10.0, low=0.0)  # ω
    cd_weight: float = bounded(0.006, low=0.0)  # α_c
    ts_weight: float = bounded(0.003, low=0.0)  # α_s
    # Per image: the squared L2 norm of Eq. 13-15 ("sum"), or the element mean ("mean", the
    # text's "MSE"), 131,072x weaker at 256 x 128 (docs/loss_scales.md)
    ts_reduction: Literal["sum", "mean"] = "sum"
    generator_blocks: int = bounded(9, low=0)
    generator_filters: int = bounded(64, low=1)
    discriminator_filters: int = bounded(64, low=1)
    gan_learning_rate: float = bounded(2e-4, low=0.0, open_low=True)
    gan_beta_1: float = bounded(0.5, low=0.0, high=1.0, open_high=True)

    def __post_init__(self):
        if not self.gan and self.ts_terms != "none":
            raise ConfigError(
                "method.params.ts_terms: the teacher-student terms need the generated IR "
                f"images; with method.params.gan false set it to 'none' (got {self.ts_terms!r})"
            )
        if self.ts_terms != "none" and not self.teacher_checkpoint:
            raise ConfigError(
                "method.params.teacher_checkpoint: ts_terms "
                f"{self.ts_terms!r} needs the IR teacher's checkpoint (or ts_terms: none)"
            )


class Images(NamedTuple):
    """One direction's images: `normalised` as the backbones read them, `gan` in [-1, 1]."""

    normalised: tf.Tensor
    gan: tf.Tensor


def check(cfg, params: Params) -> None:
    """The student (and its teacher) must be a plain one-stream backbone (`check_student`)."""
    check_student(cfg.model)


def build(cfg, params: Params, num_classes: int, make_optimizer) -> base.Parts:
    stage = feature_map_stage(cfg)
    parts = base.reid_parts(cfg, num_classes, make_optimizer, feature_map_stage=stage)
    if not params.gan:
        return parts
    student = parts.nets["model"]
    nets = {"model": student, **gan_networks(cfg, params, student.shared[stage].output.shape[-1])}
    if params.ts_terms != "none":
        nets["teacher"] = build_teacher(cfg, stage)
    if make_optimizer is None:  # restoring a run: the teacher's copy is in its checkpoint
        return base.Parts(nets, {}, student)
    if "teacher" in nets:
        restore_teacher(nets["teacher"], params.teacher_checkpoint)
    settings = OptimizerConfig(
        name="adam",
        learning_rate=params.gan_learning_rate,
        beta_1=params.gan_beta_1,
        weight_decay=0.0,
        schedule="constant",
    )
    optimizers = {
        **parts.optimizers,
        "gen": make_optimizer(_variables(nets, "gen_ir", "gen_rgb"), settings=settings),
        "disc": make_optimizer(_variables(nets, "disc_ir", "disc_rgb"), settings=settings),
    }
    return base.Parts(nets, optimizers, student)


def epoch_hook(cfg, params: Params, samples):
    """After every epoch: G_I's and G_R's translations of fixed training pairs to TensorBoard."""
    return translation_logger(cfg.data, samples) if params.gan else None


def _variables(nets, *names) -> list:
    return [variable for name in names for variable in nets[name].trainable_variables]


def train_step(parts: base.Parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    if not params.gan:
        return backbone_step(parts, batch, params)
    rgb, ir = real_images(parts, batch)
    fake_ir, fake_rgb, generator_losses = update_generators(parts, rgb, ir, params)
    maps, student_losses = update_student(parts, rgb, ir, fake_ir, student_labels(batch), params)
    discriminator_losses = update_discriminators(parts, rgb, ir, fake_ir, fake_rgb, maps, params)
    return {**student_losses, **generator_losses, **discriminator_losses}


def real_images(parts, batch: dict) -> tuple[Images, Images]:
    """(X_R, X_I) as `Images`, in the networks' compute dtype (real and generated images meet
    in concatenations)."""
    gen_ir = parts.nets["gen_ir"]
    rgb, ir = (tf.cast(batch[m]["image"], gen_ir.compute_dtype) for m in ("rgb", "ir"))
    return Images(rgb, gen_ir.to_gan(rgb)), Images(ir, gen_ir.to_gan(ir))


def student_labels(batch: dict) -> tf.Tensor:
    """int32 [3B]: the identities of the student's rows X_R, X_I, X_I' (X_I' has X_R's, C8)."""
    return tf.concat([batch["rgb"]["pid"], batch["ir"]["pid"], batch["rgb"]["pid"]], axis=0)


def update_generators(parts, rgb: Images, ir: Images, params: Params):
    """Algorithm 1 steps 1-2; returns (X_I' as `Images`, X_R' in [-1, 1], the logged losses)."""
    gen_ir, gen_rgb = parts.nets["gen_ir"], parts.nets["gen_rgb"]
    with tf.GradientTape() as tape:
        fake_ir = gen_ir(rgb.gan, training=True)
        fake_rgb = gen_rgb(ir.gan, training=True)
        fake_ir_map = None
        if params.discriminator == "joint":
            student = parts.nets["model"]
            modality = tf.ones(tf.shape(fake_ir)[:1], tf.int32)
            fake_ir_map = student.feature_map(gen_ir.to_backbone(fake_ir), modality)
        losses = {
            "loss/g_adversarial_ir": generator_loss(
                judge_ir(parts, fake_ir, fake_ir_map, params), params.objective
            ),
            "loss/g_adversarial_rgb": generator_loss(
                parts.nets["disc_rgb"](fake_rgb, training=True), params.objective
            ),
            "loss/cycle_rgb": cycle_loss(gen_rgb(fake_ir, training=True), rgb.gan),
            "loss/cycle_ir": cycle_loss(gen_ir(fake_rgb, training=True), ir.gan),
        }
        losses = {name: base.mean_over_batch(value) for name, value in losses.items()}
        total = losses["loss/g_adversarial_ir"] + losses["loss/g_adversarial_rgb"]
        total += params.cycle_weight * (losses["loss/cycle_rgb"] + losses["loss/cycle_ir"])
    base.update(tape, total, (_variables(parts.nets, "gen_ir", "gen_rgb"), parts.optimizers["gen"]))
    # Steps 2 and 3 read the images as constants: no gradient reaches the generators there.
    fake_ir = Images(gen_ir.to_backbone(fake_ir), fake_ir)
    return fake_ir, fake_rgb, {"loss/generators": total, **losses}


def update_student(parts, rgb: Images, ir: Images, fake_ir: Images, labels, params: Params):
    """Algorithm 1 steps 3-4; returns ((f(X_I), f(X_I')) for step 3, the logged losses)."""
    with tf.GradientTape() as tape:
        terms, losses, maps = student_objective(parts, rgb, ir, fake_ir, labels, params)
        total = terms["reid"] + terms["ts"] if "ts" in terms else terms["reid"]
    base.update(tape, total, *base.net_groups(parts))
    return maps, {"loss/total": total, **losses}


def student_objective(parts, rgb: Images, ir: Images, fake_ir: Images, labels, params: Params):
    """Algorithm 1 step 3: the student's two terms, {"reid": L_ReID (Eq. 8), "ts": L_TS (Eq.
    16; absent with `ts_terms: none`)}, the logged terms and (f(X_I), f(X_I')) for step 5."""
    student = parts.nets["model"]
    ir_rows = tf.concat([ir.normalised, fake_ir.normalised], axis=0)
    outputs = student({"rgb": rgb.normalised, "ir": ir_rows}, training=True)
    reid, losses = reid_losses(outputs, labels, params)
    rgb_map, real_map, fake_map = tf.split(outputs["feature_map"], 3, axis=0)
    if params.discriminator == "joint" and params.gan_weight > 0:
        images, maps = fake_set(ir.gan, fake_ir.gan, real_map, fake_map)
        judged = judge_ir(parts, images, maps, params)
        losses["loss/gan"] = base.mean_over_batch(generator_loss(judged, params.objective))
        reid += params.gan_weight * losses["loss/gan"]
    terms = {"reid": reid}
    if params.ts_terms != "none":
        terms["ts"], ts_losses = teacher_student_losses(
            parts, ir, fake_ir, (rgb_map, real_map, fake_map), params
        )
        losses.update(ts_losses)
    return terms, losses, (real_map, fake_map)


def student_inputs(parts, batch: dict) -> tuple[Images, Images, Images, tf.Tensor]:
    """(X_R, X_I, X_I', labels) for `student_objective` with the generators as they are,
    nothing updated. For measuring the student's terms outside a step (docs/loss_scales.md):
    computed before the measuring tape, X_I' is a constant there as in the step."""
    rgb, ir = real_images(parts, batch)
    gen_ir = parts.nets["gen_ir"]
    fake = gen_ir(rgb.gan, training=True)
    return rgb, ir, Images(gen_ir.to_backbone(fake), fake), student_labels(batch)


def teacher_student_losses(parts, ir: Images, fake_ir: Images, student_maps, params: Params):
    """(α_c CD + α_s (RealIR + FakeIR), the logged terms) (Eq. 13-16); `ts_terms: cd` keeps CD."""
    rgb_map, real_map, fake_map = student_maps
    teacher = parts.nets["teacher"]
    if params.ts_terms == "cd":
        teacher_fake = teacher(fake_ir.normalised, training=False)
    else:
        both = teacher(tf.concat([ir.normalised, fake_ir.normalised], axis=0), training=False)
        teacher_real, teacher_fake = tf.split(both, 2, axis=0)
    terms = {"loss/ts_cd": (teacher_fake, rgb_map)}
    if params.ts_terms == "all":
        terms["loss/ts_real_ir"] = (teacher_real, real_map)
        terms["loss/ts_fake_ir"] = (teacher_fake, fake_map)
    losses = {
        name: base.mean_over_batch(feature_map_loss(target, student, params.ts_reduction))
        for name, (target, student) in terms.items()
    }
    total = params.cd_weight * losses["loss/ts_cd"]
    if params.ts_terms == "all":
        total += params.ts_weight * (losses["loss/ts_real_ir"] + losses["loss/ts_fake_ir"])
    return total, losses


def update_discriminators(parts, rgb, ir, fake_ir, fake_rgb, maps, params: Params):
    """Algorithm 1 steps 5-7 on images and maps computed before (constants here, C2)."""
    real_map, fake_map = maps
    disc_rgb = parts.nets["disc_rgb"]
    if params.discriminator == "joint":
        fake_images, fake_maps = fake_set(ir.gan, fake_ir.gan, real_map, fake_map)
    else:
        fake_images, fake_maps = fake_ir.gan, None
    with tf.GradientTape() as tape:
        ir_terms = discriminator_loss(
            judge_ir(parts, ir.gan, real_map, params),
            judge_ir(parts, fake_images, fake_maps, params),
            params.objective,
        )
        rgb_terms = discriminator_loss(
            disc_rgb(rgb.gan, training=True), disc_rgb(fake_rgb, training=True), params.objective
        )
        # Each term is a mean over its own images: M holds three times as many as the real set.
        names = ("loss/d_ir_real", "loss/d_ir_fake", "loss/d_rgb_real", "loss/d_rgb_fake")
        losses = {n: base.mean_over_batch(v) for n, v in zip(names, ir_terms + rgb_terms)}
        total = sum(losses.values())
    disc_variables = _variables(parts.nets, "disc_ir", "disc_rgb")
    base.update(tape, total, (disc_variables, parts.optimizers["disc"]))
    return {"loss/discriminators": total, **losses}


def fake_set(real_ir, fake_ir, real_map, fake_map):
    """M of Eq. 5 as C2 reads it: (X_I', f(X_I')), (X_I', f(X_I)), (X_I, f(X_I')), stacked.

    Args:
        real_ir, fake_ir: float32 [B, H, W, 3] X_I and X_I' in [-1, 1], row k of one identity.
        real_map, fake_map: float32 [B, h, w, c] the student's maps of them.

    Returns:
        (images [3B, H, W, 3], maps [3B, h, w, c]), the pairs in that order.
    """
    images = tf.concat([fake_ir, fake_ir, real_ir], axis=0)
    maps = tf.concat([fake_map, real_map, fake_map], axis=0)
    return images, maps


def judge_ir(parts, images, maps, params: Params):
    """D_I's patch logits: of (image, map) pairs (joint), or of the images alone (ordinary)."""
    disc_ir = parts.nets["disc_ir"]
    if params.discriminator == "joint":
        return disc_ir([images, maps], training=True)
    return disc_ir(images, training=True)


def reid_losses(outputs, labels, params: Params):
    """(λ1 ID + λ2 triplet, {"loss/id", "loss/triplet"}) on the student's outputs."""
    identity = base.summed_identity(labels, outputs["logits"], params.label_smoothing)
    triplet = batch_hard_triplet(labels, outputs["features"], margin=params.triplet_margin)
    losses = {
        "loss/id": base.mean_over_batch(identity),
        "loss/triplet": base.mean_over_batch(triplet),
    }
    total = params.id_weight * losses["loss/id"] + params.triplet_weight * losses["loss/triplet"]
    return total, losses


def backbone_step(parts, batch: dict, params: Params) -> dict[str, tf.Tensor]:
    """Table II's "backbone only": the student's ID + triplet on X_R and X_I, nothing else."""
    inputs, labels, _ = base.split_batch(batch)
    with tf.GradientTape() as tape:
        total, losses = reid_losses(parts.nets["model"](inputs, training=True), labels, params)
    base.update(tape, total, *base.net_groups(parts))
    return {"loss/total": total, **losses}
