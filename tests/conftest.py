"""Test-wide settings: quiet TensorFlow, the kernels the tools use, two logical CPUs, no
downloads, float32 unless a test chooses otherwise.

tfreid is imported first, as the tools import it: its import-time settings (the oneDNN
kernels) take effect only before TensorFlow starts (tests/test_imports.py checks they did).
The two logical CPUs stand in for two GPUs (as keras's own distribute tests do): a
`tf.distribute.MirroredStrategy` over them runs a method's step on two replicas in-process.
They must be configured before TensorFlow's runtime starts, so here, before any test module.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# `model.pretrained_weights: imagenet` fetches from this mirror, a directory that does not
# exist: a test (or a tool it starts) never reaches the internet; one that fetches by mistake
# fails at once. The fetching tests set their own file:// mirror.
os.environ["TFREID_WEIGHTS_MIRROR"] = "file:///nonexistent-tfreid-test-mirror"
# `train.mixed_precision: auto` means float32 in tests (and the tools they start): the same
# numbers on every machine, and no tiny bfloat16 run left with a NaN kernel by the CPU's
# bfloat16 convolution gradient (docs/reliability.md#divergence). Tests of bfloat16 choose it.
os.environ["TFREID_AUTO_PRECISION"] = "none"
# The tests of bfloat16 run oneDNN's AVX-512 BF16 kernels, not the AMX ones a CI CPU may have:
# three two-step bfloat16 runs at 32x16 on CI-like machines left NaN in a conv kernel (twice
# block6_1_conv, over a one-pixel-wide map), never here (docs/reliability.md#divergence).
# oneDNN reads this at its first kernel.
os.environ.setdefault("ONEDNN_MAX_CPU_ISA", "AVX512_CORE_BF16")
import tfreid  # noqa: E402, F401, I001  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow starts)
import tensorflow as tf  # noqa: E402

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)
