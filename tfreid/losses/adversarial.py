"""TS-GAN losses (Zhang et al., arXiv 2007.07452, Eq. 1-7 and 12-15), one value per image.

- GAN terms (Eq. 1-4, 12) on the discriminator's patch logits [N, h, w, 1] (any [N, ...]): each
  image's value is the mean over its patches. `objective="vanilla"` is the log-loss the paper
  writes, computed from logits (-log σ(x) = softplus(-x), -log(1 - σ(x)) = softplus(x), exact
  for any logit); the generator side is non-saturating (-log D(fake), not log(1 - D(fake))).
  `objective="lsgan"` is the least-squares option CycleGAN and AlignGAN default to: (x - 1)² for
  "real", x² for "fake", on the raw outputs.
- Cycle term (Eq. 6): mean absolute difference per image (CycleGAN's L1 mean).
- Teacher-student terms (Eq. 13-15): squared differences of feature maps per sample; their sum
  by default, the squared L2 norm the equations print, or their element mean as
  `reduction="mean"` (the text's word "MSE"). The two differ by the number of elements per
  sample (131,072 for a 16 x 8 x 1024 map at 256 x 128 input), so the weights 0.003 / 0.006
  mean very different things: docs/loss_scales.md measures both.

The discriminator sees the real pair and the fake set M, which holds three times as many pairs;
`discriminator_loss` therefore returns the two terms separately, and a method averages each
over its own (global) count and adds them: L_D = E_real[...] + E_M[...] (Eq. 2).
"""

import tensorflow as tf
from keras import ops

from tfreid.losses.pairwise import as_float

OBJECTIVES = ("vanilla", "lsgan")
REDUCTIONS = ("mean", "sum")


def gan_loss(logits, real: bool, objective: str = "vanilla") -> tf.Tensor:
    """Per-image loss of asking the discriminator to call these images real (or fake).

    Args:
        logits: float [N, ...] discriminator outputs (patch logits), before any sigmoid.
        real: True for the target "real" (1), False for "fake" (0).
        objective: "vanilla" (log-loss from logits) or "lsgan" (squared error).

    Returns:
        float32 [N]: the mean over each image's logits (float64 if `logits` is float64).
    """
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {OBJECTIVES}; received {objective!r}")
    logits = as_float(logits)
    if objective == "vanilla":
        values = ops.softplus(-logits) if real else ops.softplus(logits)
    else:
        values = ops.square(logits - 1.0) if real else ops.square(logits)
    return _mean_per_sample(values)


def discriminator_loss(
    real_logits, fake_logits, objective: str = "vanilla"
) -> tuple[tf.Tensor, tf.Tensor]:
    """The discriminator's two terms (Eq. 2-4): real images -> real, fake images -> fake.

    Args:
        real_logits: float [N_real, ...] outputs on the real pairs.
        fake_logits: float [N_fake, ...] outputs on the fake pairs (the set M for D_I).
        objective: "vanilla" or "lsgan".

    Returns:
        (real term float32 [N_real], fake term float32 [N_fake]); average each over its own
        count and add them (CycleGAN also halves the sum; the paper does not).
    """
    return gan_loss(real_logits, True, objective), gan_loss(fake_logits, False, objective)


def generator_loss(fake_logits, objective: str = "vanilla") -> tf.Tensor:
    """The generator's (or the backbone's, Eq. 12) term: fake images -> real.

    Non-saturating under "vanilla": -log D(x), whose gradient stays large while the
    discriminator confidently rejects the fakes.

    Args:
        fake_logits: float [N, ...] discriminator outputs on generated (or M) pairs.
        objective: "vanilla" or "lsgan".

    Returns:
        float32 [N] per-image values.
    """
    return gan_loss(fake_logits, True, objective)


def cycle_loss(reconstructed, original) -> tf.Tensor:
    """Per-image mean absolute difference (Eq. 6, one direction: |G_R(G_I(x)) - x|).

    Args:
        reconstructed: float [N, H, W, C], the image after both generators.
        original: float [N, H, W, C], the input image.

    Returns:
        float32 [N].
    """
    names = ("reconstructed", "original")
    reconstructed, original = _same_shape_floats(reconstructed, original, names)
    return _mean_per_sample(ops.abs(reconstructed - original))


def feature_map_loss(teacher, student, reduction: str = "sum") -> tf.Tensor:
    """Teacher-student feature-map loss per sample (Eq. 13-15).

    The teacher's map is a fixed target: no gradient flows into `teacher`.

    Args:
        teacher: float [N, h, w, C] feature maps of the frozen teacher.
        student: float [N, h, w, C] feature maps of the student (same shape).
        reduction: "sum" of the squared differences (default: the squared L2 norm as
            printed) or their "mean" (the text's "MSE").

    Returns:
        float32 [N].
    """
    if reduction not in REDUCTIONS:
        raise ValueError(f"reduction must be one of {REDUCTIONS}; received {reduction!r}")
    teacher, student = _same_shape_floats(teacher, student, ("teacher", "student"))
    squared = ops.square(student - ops.stop_gradient(teacher))
    if reduction == "mean":
        return _mean_per_sample(squared)
    return ops.sum(ops.reshape(squared, (ops.shape(squared)[0], -1)), axis=1)


def _mean_per_sample(values):
    """float [N, ...] -> [N]: the mean over all but the first axis."""
    return ops.mean(ops.reshape(values, (ops.shape(values)[0], -1)), axis=1)


def _same_shape_floats(first, second, names):
    """Both as float32 (float64 kept), after checking their static shapes agree."""
    first = as_float(first)
    second = ops.cast(as_float(second), first.dtype)
    first_shape, second_shape = tuple(first.shape), tuple(second.shape)
    mismatch = len(first_shape) != len(second_shape) or any(
        a is not None and b is not None and a != b
        for a, b in zip(first_shape, second_shape, strict=False)
    )
    if mismatch:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape; received {names[0]} "
            f"{first_shape} and {names[1]} {second_shape}"
        )
    return first, second
