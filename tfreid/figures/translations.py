"""Pictures of TS-GAN's generators: a fixed set of training pairs and their translations.

One row per identity: real RGB, fake IR G_I(RGB), reconstructed RGB G_R(G_I(RGB)), real IR,
fake RGB G_R(IR). The training loop writes this grid to TensorBoard after every epoch
(`translation_logger`); tools/show_translations.py writes it as a PNG from a checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfreid.config import DataConfig
from tfreid.data.augment import normalize
from tfreid.data.pipeline import eval_dataset
from tfreid.data.samples import Sample
from tfreid.figures.identities import pick_identities
from tfreid.figures.pixels import to_pixels

COLUMNS = ("rgb", "fake_ir", "reconstructed_rgb", "ir", "fake_rgb")
# The generators' images lie in [-1, 1]: the normalisation with mean 0.5 and std 0.5.
GAN_MEAN, GAN_STD = 0.5, 0.5


def fixed_pairs(
    samples: Sequence[Sample], data_cfg: DataConfig, count: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """The first RGB and the first IR image (sorted paths) of the first `count` identities
    (sorted ids) that have both, resized to the configured size.

    Returns:
        (RGB images, IR images), uint8 [n, H, W, 3] each, row k of one identity.
    """
    rows = pick_identities(samples, count)
    chosen = [rgb for _, rgb, _ in rows] + [ir for _, _, ir in rows]
    images = next(iter(eval_dataset(chosen, data_cfg, len(chosen))))["image"].numpy()
    return images[: len(rows)], images[len(rows) :]


def translate(parts, rgb: np.ndarray, ir: np.ndarray, data_cfg: DataConfig) -> dict:
    """The `COLUMNS` images of uint8 [n, H, W, 3] RGB and IR images, in inference mode.

    Returns:
        {column name: uint8 [n, H, W, 3]}.
    """
    gen_ir, gen_rgb = parts.nets["gen_ir"], parts.nets["gen_rgb"]

    def to_gan(images):
        return gen_ir.to_gan(normalize(tf.cast(images, tf.float32), data_cfg.mean, data_cfg.std))

    real_rgb, real_ir = to_gan(rgb), to_gan(ir)
    fake_ir = gen_ir(real_rgb, training=False)
    fake_rgb = gen_rgb(real_ir, training=False)
    columns = (real_rgb, fake_ir, gen_rgb(fake_ir, training=False), real_ir, fake_rgb)
    return {
        name: to_pixels(images, GAN_MEAN, GAN_STD)[0]
        for name, images in zip(COLUMNS, columns, strict=True)
    }


def grid(columns: dict) -> np.ndarray:
    """uint8 [n H, 5 W, 3]: one row per identity, the `COLUMNS` left to right."""
    return np.concatenate([np.concatenate(list(columns[name]), axis=0) for name in COLUMNS], 1)


def translation_logger(data_cfg: DataConfig, samples: Sequence[Sample], count: int = 8):
    """`log(epoch, parts, writer)`: the grid of `count` fixed training pairs as the TensorBoard
    image "translations" at step `epoch`."""
    rgb, ir = fixed_pairs(samples, data_cfg, count)

    def log(epoch: int, parts, writer) -> None:
        picture = grid(translate(parts, rgb, ir, data_cfg))
        with writer.as_default(step=epoch):
            tf.summary.image("translations", picture[None])
        writer.flush()

    return log
