"""Image preprocessing and training augmentation, all randomness from stateless seeds.

Every random function takes an explicit int [2] seed and uses stateless TF ops, so an image's
augmentation depends only on (run seed, global step, position in the batch): a run resumed
from a checkpoint sees exactly the images an uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import tensorflow as tf

from tfreid.config import DataConfig

# Zhong et al., "Random Erasing Data Augmentation" (AAAI 2020): s_l, s_h and r_1, 1 / r_1.
ERASING_AREA = (0.02, 0.4)
ERASING_ASPECT = (0.3, 1 / 0.3)


def resize(images: tf.Tensor, height: int, width: int) -> tf.Tensor:
    """Bilinear resize with antialiasing, as PIL's bilinear resize that the reference code uses.

    Shared by the input pipeline and the serving function, so both see identical pixels.

    Args:
        images: [..., h, w, C] (a single image or a batch), any real dtype, values in [0, 255].
        height: output height.
        width: output width.

    Returns:
        float32 [..., height, width, C], values in [0, 255].
    """
    images = tf.cast(images, tf.float32)
    return tf.image.resize(images, (height, width), method="bilinear", antialias=True)


def normalize(images, mean: Sequence[float], std: Sequence[float]):
    """Maps pixel values in [0, 255] to ((x / 255) - mean) / std per channel.

    Shared by the input pipeline and the model's serving function.

    Args:
        images: [..., 3], float32 (or any real dtype) pixel values in [0, 255].
        mean: 3 per-channel means of x / 255.
        std: 3 per-channel standard deviations of x / 255.

    Returns:
        float32 [..., 3].
    """
    if len(mean) != 3 or len(std) != 3:
        raise ValueError(f"mean and std need 3 channel values, got mean={mean}, std={std}")
    if min(std) <= 0:
        raise ValueError(f"std values must be positive, got {std}")
    images = keras.ops.cast(images, "float32")
    mean = keras.ops.convert_to_tensor(mean, "float32")
    std = keras.ops.convert_to_tensor(std, "float32")
    return (images / 255.0 - mean) / std


def pad_and_random_crop(image: tf.Tensor, pad: int, seed: tf.Tensor) -> tf.Tensor:
    """Pads with `pad` zero pixels on every side, then crops a random window of the input size.

    Args:
        image: float32 [H, W, C] with a static shape.
        pad: pixels added on each side.
        seed: int [2] stateless seed.

    Returns:
        float32 [H, W, C].
    """
    padded = tf.pad(image, [[pad, pad], [pad, pad], [0, 0]])
    return tf.image.stateless_random_crop(padded, tf.shape(image), seed)


def random_flip(image: tf.Tensor, seed: tf.Tensor) -> tf.Tensor:
    """Mirrors left-right with probability 0.5.

    Args:
        image: [H, W, C].
        seed: int [2] stateless seed.
    """
    return tf.image.stateless_random_flip_left_right(image, seed)


def random_erasing(
    image: tf.Tensor,
    probability: float,
    seed: tf.Tensor,
    area: tuple[float, float] = ERASING_AREA,
    aspect: tuple[float, float] = ERASING_ASPECT,
    fill: float = 0.0,
    attempts: int = 100,
) -> tf.Tensor:
    """Random erasing (Zhong et al., Alg. 1), written with stateless ops.

    With `probability`, a rectangle of area uniform in `area` (fraction of the image) and aspect
    ratio (height / width) uniform in `aspect` is set to `fill`; the first of `attempts` drawn
    rectangles that fits strictly inside the image is used, none if none fits. Applied after
    normalisation, fill 0 is the mean pixel. Keras's RandomErasing layer draws from a stateful
    SeedGenerator, whose state a resumed run would not reproduce; stateless ops keep the
    augmentation a function of `seed` alone.

    Args:
        image: float32 [H, W, C] with a static shape.
        probability: chance of erasing.
        seed: int [2] stateless seed.
        area: (min, max) erased fraction of the image area.
        aspect: (min, max) erased height / width.
        fill: the value written into the rectangle.
        attempts: rectangles tried before giving up.

    Returns:
        float32 [H, W, C].
    """
    height, width = image.shape[0], image.shape[1]
    apply_seed, shape_seed, place_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    apply = tf.random.stateless_uniform([], apply_seed) < probability
    u = tf.random.stateless_uniform([attempts, 2], shape_seed)
    target = (area[0] + u[:, 0] * (area[1] - area[0])) * float(height * width)
    ratio = aspect[0] + u[:, 1] * (aspect[1] - aspect[0])
    heights = tf.cast(tf.round(tf.sqrt(target * ratio)), tf.int32)
    widths = tf.cast(tf.round(tf.sqrt(target / ratio)), tf.int32)
    fits = (heights < height) & (widths < width)
    first = tf.argmax(tf.cast(fits, tf.int32))  # 0 when nothing fits; masked out below
    erase_h, erase_w = heights[first], widths[first]
    v = tf.random.stateless_uniform([2], place_seed)
    top = tf.minimum(
        tf.cast(v[0] * tf.cast(height - erase_h + 1, tf.float32), tf.int32), height - erase_h
    )
    left = tf.minimum(
        tf.cast(v[1] * tf.cast(width - erase_w + 1, tf.float32), tf.int32), width - erase_w
    )
    rows = tf.range(height)
    cols = tf.range(width)
    in_rows = (rows >= top) & (rows < top + erase_h)
    in_cols = (cols >= left) & (cols < left + erase_w)
    mask = in_rows[:, None] & in_cols[None, :] & apply & tf.reduce_any(fits)
    return tf.where(mask[:, :, None], tf.cast(fill, image.dtype), image)


def train_augment(image: tf.Tensor, cfg: DataConfig, seed: tf.Tensor) -> tf.Tensor:
    """Pad + random crop, flip, normalisation and random erasing, in the reference order.

    Args:
        image: float32 [cfg.height, cfg.width, 3], values in [0, 255] (already resized).
        cfg: pad, flip, erasing_prob, mean, std are used.
        seed: int [2] stateless seed of this image.

    Returns:
        float32 [cfg.height, cfg.width, 3], normalised.
    """
    crop_seed, flip_seed, erase_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if cfg.pad > 0:
        image = pad_and_random_crop(image, cfg.pad, crop_seed)
    if cfg.flip:
        image = random_flip(image, flip_seed)
    image = normalize(image, cfg.mean, cfg.std)
    if cfg.erasing_prob > 0:
        image = random_erasing(image, cfg.erasing_prob, erase_seed)
    return image
