"""TS-GAN's networks besides the student: generators, discriminators and the IR teacher.

- Generators G_I (RGB -> IR) and G_R (IR -> RGB): CycleGAN ResNet generators as `Translator`s
  (docs/methods/tsgan.md, C1 and C7), nets "gen_ir" and "gen_rgb".
- D_R: a PatchGAN on RGB images ("disc_rgb"). D_I ("disc_ir"): AlignGAN's joint discriminator
  of (IR image, student feature map), or with `discriminator: ordinary` a PatchGAN on the IR
  image alone (Table II's "ordinary D").
- The teacher FE_T ("teacher"): the `model` section's backbone up to the student's feature map
  stage (conv1 + layer1-3 for ResNet-50), restored from the IR-only baseline's checkpoint and
  frozen: no trainable variable, and its batch norms always use their moving statistics.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfreid.config import Config, ConfigError, ModelConfig
from tfreid.models.gan import (
    build_joint_discriminator,
    build_patch_discriminator,
    build_resnet_generator,
)
from tfreid.models.networks import build_backbone, is_gated, num_stages
from tfreid.models.translator import Translator
from tfreid.training.checkpoint_keys import variables_by_path


def check_student(model: ModelConfig) -> None:
    """Refuses a `model` section other than the student TS-GAN describes: a plain one-stream
    backbone of `model.backbone` on 3-channel images (the teacher is that backbone's stages,
    so it shares the student's stage names and shapes; a `model.network` has stages of its
    own)."""
    plain = model.structure == "one_stream" and not is_gated(model.backbone)
    if plain and model.encoding == "rgb3" and model.network is None:
        return
    raise ConfigError(
        "model: method tsgan's student and teacher are one-stream plain backbones on "
        f"3-channel images; got model.structure {model.structure}, model.encoding "
        f"{model.encoding}, model.backbone {model.backbone}, model.network "
        f"{model.network or 'null'}"
    )


def feature_map_stage(cfg: Config) -> int:
    """FE_S / FE_T end at the stage before the last (ResNet-50: conv4 = layer3, stride 16)."""
    return num_stages(cfg.model.backbone) - 2


def gan_networks(cfg: Config, params, feature_channels: int) -> dict[str, keras.Model]:
    """{"gen_ir", "gen_rgb", "disc_ir", "disc_rgb"} with `params`' widths and D_I kind."""
    translators = {
        name: Translator(
            build_resnet_generator(params.generator_blocks, params.generator_filters, name=name),
            cfg.data.mean,
            cfg.data.std,
            name=f"{name}_translator",
        )
        for name in ("gen_ir", "gen_rgb")
    }
    filters = params.discriminator_filters
    if params.discriminator == "joint":
        disc_ir = build_joint_discriminator(feature_channels, filters, name="disc_ir")
    else:
        disc_ir = build_patch_discriminator(filters, name="disc_ir")
    disc_rgb = build_patch_discriminator(filters, name="disc_rgb")
    return {**translators, "disc_ir": disc_ir, "disc_rgb": disc_rgb}


def build_teacher(cfg: Config, stage: int) -> keras.Model:
    """FE_T: float32 [B, H, W, 3] normalised IR images -> the stage-`stage` feature map.

    Its layers carry the names of the `model` section's backbone, so the teacher run's
    checkpoint keys its variables (net "model") exactly as here.
    """
    stages = build_backbone(cfg.model.backbone, 3, cfg.model.last_stride)[: stage + 1]
    images = keras.Input((None, None, 3), name="teacher_images")
    x = images
    for stage_model in stages:
        x = stage_model(x)
    teacher = keras.Model(images, x, name="teacher")
    teacher.trainable = False  # Keras batch norm then uses the moving statistics, always
    return teacher


def restore_teacher(teacher: keras.Model, path: str | None) -> str:
    """Loads FE_T's weights from the teacher run's checkpoint (prefix or directory at `path`).

    Returns:
        The checkpoint prefix read.

    Raises:
        ConfigError: no path given, or the checkpoint does not hold every variable of FE_T
            with its shape (another backbone), naming `method.params.teacher_checkpoint`.
        FileNotFoundError: nothing at `path`.
    """
    key = "method.params.teacher_checkpoint"
    if not path:
        raise ConfigError(f"{key}: the teacher-student terms need the IR teacher's checkpoint")
    prefix = path if tf.io.gfile.exists(path + ".index") else tf.train.latest_checkpoint(path)
    if prefix is None:
        raise FileNotFoundError(
            f"{key}: no checkpoint at {path} (train the teacher first, e.g. tools/train.py "
            "--config yaml_configs/sysu/tsgan_teacher.yaml, and give its checkpoint prefix "
            "or checkpoints directory)"
        )
    checkpoint = tf.train.Checkpoint(net_model=variables_by_path(teacher))
    try:
        checkpoint.read(prefix).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.InvalidArgumentError) as err:
        first = str(err).strip().splitlines()[0][:300]
        raise ConfigError(
            f"{key}: {prefix} does not hold a teacher for this model section (network "
            f"'model' with every variable of the {len(teacher.layers) - 1} stages of FE_T): "
            f"{first}"
        ) from None
    return prefix
