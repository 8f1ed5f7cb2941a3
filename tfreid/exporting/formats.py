"""Writing the portable serving function as an ONNX or a LiteRT (TFLite) file.

ONNX goes through tf2onnx (opset `ONNX_OPSET`); LiteRT through TensorFlow's converter with
built-in operators only, so the file runs in the plain LiteRT interpreter (ai-edge-litert)
without the TensorFlow-ops (Flex) delegate.
"""

from __future__ import annotations

import logging
import os
import tempfile

import keras
import tensorflow as tf

from tfreid.exporting.portable import PORTABLE_SIGNATURE
from tfreid.methods.base import Parts

FORMATS = ("savedmodel", "onnx", "tflite")
EXTENSIONS = {"onnx": ".onnx", "tflite": ".tflite"}
ONNX_OPSET = 17


def check_file_target(output: str, fmt: str, overwrite: bool) -> None:
    """Fails, before any work, unless `output` may receive a `fmt` file: a new path with the
    format's extension, or (only with `overwrite`) an existing file of that name.

    Raises:
        ValueError: the extension is not the format's.
        FileExistsError: naming what is at `output`.
    """
    extension = EXTENSIONS[fmt]
    if not output.lower().endswith(extension):
        raise ValueError(f"--format {fmt} writes a {extension} file; got --output {output}")
    if os.path.isdir(output) or (os.path.lexists(output) and not os.path.isfile(output)):
        raise FileExistsError(f"{output} exists and is not a file; choose a new path")
    if os.path.lexists(output) and not overwrite:
        raise FileExistsError(f"{output} already exists; pass --overwrite to replace it")


def write_onnx(function, path: str) -> None:
    """Converts the portable function (`portable_function`) to an ONNX file at `path`."""
    import tf2onnx

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # one INFO line per graph pass
    model, _ = tf2onnx.convert.from_function(
        function, input_signature=PORTABLE_SIGNATURE, opset=ONNX_OPSET
    )
    with open(path, "wb") as f:
        f.write(model.SerializeToString())


def write_tflite(parts: Parts, function, path: str) -> None:
    """Converts the portable function to a LiteRT flatbuffer at `path`, signature
    "serving_default" (inputs "image", "modality"; output "embedding").

    The converter reads a SavedModel of the function: converting the traced function directly
    keeps Keras 3's variables as resource variables, which the interpreter leaves
    uninitialised (READ_VARIABLE fails or reads garbage); from a SavedModel they become
    constants.
    """
    with tempfile.TemporaryDirectory() as directory:
        archive = keras.export.ExportArchive()
        archive.track(parts.serving)
        archive.add_endpoint("serving_default", function, input_signature=PORTABLE_SIGNATURE)
        saved_model = os.path.join(directory, "saved_model")
        archive.write_out(saved_model, verbose=False)
        converter = tf.lite.TFLiteConverter.from_saved_model(
            saved_model, signature_keys=["serving_default"]
        )
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
        content = converter.convert()
    with open(path, "wb") as f:
        f.write(content)
