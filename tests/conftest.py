"""Test-wide settings: quiet TensorFlow, the kernels the tools use, two logical CPUs, no
downloads.

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
import tensorflow as tf  # noqa: E402

import tfreid  # noqa: E402, F401  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow starts)

tf.config.set_logical_device_configuration(
    tf.config.list_physical_devices("CPU")[0], [tf.config.LogicalDeviceConfiguration()] * 2
)
