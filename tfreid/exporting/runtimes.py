"""Running an exported ONNX or LiteRT file as an embedding function, as a server would.

`embed(image, modality)` takes uint8 [B, H, W, 3] images and int32 [B] modalities (NumPy) and
returns float32 [B, D]; each runtime refuses other dtypes and channel counts itself.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tfreid.cli import native_output_hidden


def onnx_embed_fn(path: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The ONNX file's embedding function, run by onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])

    def embed(image, modality):
        feed = {"image": np.asarray(image), "modality": np.asarray(modality)}
        return session.run(["embedding"], feed)[0]

    return embed


def litert_embed_fn(path: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The LiteRT file's "serving_default" signature, run by the LiteRT interpreter
    (ai-edge-litert; `pip install 'tfreid[export]'`)."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        raise ImportError(
            "running a LiteRT model needs ai-edge-litert: pip install 'tfreid[export]'"
        ) from None
    with native_output_hidden():  # the first call creates the XNNPACK delegate and says so
        runner = Interpreter(model_path=path).get_signature_runner("serving_default")
        runner(image=np.zeros((1, 8, 8, 3), np.uint8), modality=np.zeros(1, np.int32))
    dim = int(runner.get_output_details()["embedding"]["shape_signature"][-1])

    def embed(image, modality):
        image = np.asarray(image)
        # The interpreter itself fails on these with "XNNPack delegate failed to reshape".
        if image.ndim != 4 or image.shape[-1] != 3:
            raise ValueError(f"image must be [batch, height, width, 3], got shape {image.shape}")
        if not len(image):
            return np.zeros((0, dim), np.float32)
        # The runner resizes its inputs to each call's shapes.
        return runner(image=image, modality=np.asarray(modality))["embedding"]

    return embed


EMBED_FNS = {"onnx": onnx_embed_fn, "tflite": litert_embed_fn}
