"""tfreid: RGB-infrared cross-modality person re-identification (Keras 3 / TensorFlow)."""

import json
import os
import sys


def _keras_backend() -> str:
    """The backend Keras will use, read the way Keras reads it, without importing Keras."""
    if "keras" in sys.modules and hasattr(sys.modules["keras"], "backend"):
        return sys.modules["keras"].backend.backend()
    if os.environ.get("KERAS_BACKEND"):
        return os.environ["KERAS_BACKEND"]
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as f:
            return json.load(f).get("backend", "tensorflow")
    except (OSError, ValueError):
        return "tensorflow"


if _keras_backend() != "tensorflow":
    raise ImportError(
        f"tfreid needs the TensorFlow Keras backend, but Keras is set to {_keras_backend()!r} "
        "(KERAS_BACKEND or ~/.keras/keras.json). Set KERAS_BACKEND=tensorflow."
    )

# oneDNN kernels are off by default in some TensorFlow CPU builds; their convolution
# gradients are up to 60x faster on small feature maps (ResNet-6's last blocks). Effective
# only when tfreid is imported before TensorFlow, as the tools do.
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "1")

__version__ = "0.1.0"
