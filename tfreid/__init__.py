"""tfreid: RGB-infrared cross-modality person re-identification (Keras 3 / TensorFlow)."""

import os

_backend = os.environ.get("KERAS_BACKEND", "tensorflow")
if _backend != "tensorflow":
    raise ImportError(
        f"tfreid needs the TensorFlow Keras backend, but KERAS_BACKEND={_backend!r}. "
        "Unset KERAS_BACKEND or set KERAS_BACKEND=tensorflow."
    )

import keras  # noqa: E402

if keras.backend.backend() != "tensorflow":
    raise ImportError(
        f"tfreid needs the TensorFlow Keras backend, but Keras is using "
        f"{keras.backend.backend()!r} (from ~/.keras/keras.json). Set KERAS_BACKEND=tensorflow."
    )

__version__ = "0.1.0"
