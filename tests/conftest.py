"""Test-wide settings: quiet TensorFlow and the same kernels the tools use."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import tfreid  # noqa: E402, F401  (sets TF_ENABLE_ONEDNN_OPTS before TensorFlow starts)
