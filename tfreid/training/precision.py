"""Mixed precision: which compute dtype a run uses, and the Keras policy while networks are built.

`train.mixed_precision` is "none" (float32), "bfloat16" (CPUs with AVX-512 BF16 or AMX, TPUs,
GPUs of compute capability 8.0 and later), "float16" (GPUs; the loss is scaled) or "auto" (the
default): bfloat16 where the hardware computes it natively, float32 elsewhere. The environment
variable TFREID_AUTO_PRECISION (none or bfloat16) says what "auto" means on a machine, for
every run and tool there, without editing configs (docs/reliability.md#divergence). Variables stay
float32 under every policy, losses are computed in float32 (`tfreid.losses.pairwise.as_float`)
and the SavedModel serves float32 embeddings.
"""

from __future__ import annotations

import contextlib
import os

import keras
import tensorflow as tf

from tfreid.errors import ConfigError

POLICIES = {"none": "float32", "bfloat16": "mixed_bfloat16", "float16": "mixed_float16"}
_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
CPUINFO = "/proc/cpuinfo"
# oneDNN's instruction-set caps (ONEDNN_MAX_CPU_ISA) below AVX-512 BF16: under one, a CPU's
# bfloat16 flags do not reach TensorFlow's kernels (AVX2 and below have no bfloat16
# convolution at all; AVX-512 without BF16 emulates it).
_ONEDNN_CAP_ENV = "ONEDNN_MAX_CPU_ISA"
_CAPS_WITHOUT_BF16 = (
    "SSE41",
    "AVX",
    "AVX2",
    "AVX2_VNNI",
    "AVX2_VNNI_2",
    "AVX512_CORE",
    "AVX512_CORE_VNNI",
)
AUTO_ENV = "TFREID_AUTO_PRECISION"
_AUTO_CHOICES = ("none", "bfloat16")


def resolve(choice: str) -> str:
    """`train.mixed_precision` with "auto" replaced by $TFREID_AUTO_PRECISION when set, else
    by what this machine computes natively.

    Raises:
        ConfigError: $TFREID_AUTO_PRECISION is set to something else than none or bfloat16.
    """
    if choice != "auto":
        return choice
    chosen = os.environ.get(AUTO_ENV)
    if chosen is not None:
        if chosen not in _AUTO_CHOICES:
            raise ConfigError(
                f"environment variable {AUTO_ENV}={chosen!r}: expected one of "
                f"{', '.join(_AUTO_CHOICES)} (what train.mixed_precision: auto means here)"
            )
        return chosen
    return "bfloat16" if native_bfloat16() else "none"


def native_bfloat16() -> bool:
    """Whether this machine's accelerator (or, without one, its CPU as oneDNN may use it)
    computes bfloat16."""
    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return tuple(details.get("compute_capability", (0, 0))) >= (8, 0)
    if os.environ.get(_ONEDNN_CAP_ENV, "").upper() in _CAPS_WITHOUT_BF16:
        return False
    try:
        with open(CPUINFO, encoding="utf-8") as cpuinfo:
            flags = cpuinfo.read()
    except OSError:  # not Linux: no way to ask here, so no bfloat16
        return False
    return any(flag in flags for flag in _BF16_CPU_FLAGS)


@contextlib.contextmanager
def dtype_policy(choice: str):
    """Keras layers created inside compute in the chosen precision (variables float32); the
    process's global policy is restored afterwards."""
    previous = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy(POLICIES[resolve(choice)])
    try:
        yield
    finally:
        keras.mixed_precision.set_global_policy(previous)
