"""Which SavedModel an index was built with, so that a query with another one is refused.

An index records the SavedModel's path and a fingerprint of what the model computes:

- "weights": a SHA-256 of its variables' values, taken as an unordered collection (an export
  numbers the variables in an order that changes from one export to the next), which a copy
  and a re-export of the same checkpoint keep. TensorFlow's own SavedModel fingerprint
  (`fingerprint.pb`) does not serve: it changes with every export, even of the same
  checkpoint (measured: two `tools/export.py` runs, two fingerprints);
- "probe": the model's embeddings of two fixed pseudo-random images (one per modality), which
  catch what the weights do not: the same weights exported with other preprocessing (input
  size, normalisation).

Two fingerprints are the same model when the weights hashes are equal and every probe
embedding has a cosine similarity of at least `PROBE_COSINE` with the recorded one (the same
graph on another machine differs by kernel rounding only).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from tfreid.evaluation.features import EmbedFn, saved_model_embed_fn

PROBE_COSINE = 0.999
# Operations whose second input is the output size [height, width]; tfreid's SavedModels
# resize with ScaleAndTranslate (tf.image.resize with antialiasing).
_RESIZES = (
    "ScaleAndTranslate",
    "ResizeBilinear",
    "ResizeArea",
    "ResizeBicubic",
    "ResizeNearestNeighbor",
)
_PROBE_SEED = 20  # fixed: the probe must be the same images in every process, forever


def input_size(path: str) -> tuple[int, int] | None:
    """(height, width) the SavedModel at `path` resizes its images to, read from its graph:
    the constant size of its resize operation (None when there is no single one)."""
    model = saved_model_pb2.SavedModel()
    with open(os.path.join(path, "saved_model.pb"), "rb") as f:
        model.ParseFromString(f.read())
    sizes = set()
    for graph in model.meta_graphs:
        for function in graph.graph_def.library.function:
            nodes = {node.name: node for node in function.node_def}
            for node in function.node_def:
                source = nodes.get(node.input[1].split(":")[0]) if node.op in _RESIZES else None
                if source is not None and source.op == "Const":
                    size = tf.make_ndarray(source.attr["value"].tensor)
                    sizes.add(tuple(int(v) for v in size.reshape(-1)))
    return sizes.pop() if len(sizes) == 1 and len(next(iter(sizes))) == 2 else None


def load_model(path: str) -> tuple[EmbedFn, dict]:
    """(embedding function, fingerprint) of the SavedModel at `path`.

    Raises:
        ValueError: not a SavedModel with the serving signature (`saved_model_embed_fn`).
    """
    embed = saved_model_embed_fn(path)
    image, modality = probe_images()
    probe = np.asarray(embed(image, modality), np.float64)
    return embed, {"weights": weights_hash(path), "probe": probe.round(7).tolist()}


def probe_images() -> tuple[np.ndarray, np.ndarray]:
    """uint8 [2, 64, 32, 3] pseudo-random images and their modalities (RGB, IR)."""
    rng = np.random.default_rng(_PROBE_SEED)
    return rng.integers(0, 256, (2, 64, 32, 3), dtype=np.uint8), np.array([0, 1], np.int32)


def weights_hash(path: str) -> str:
    """SHA-256 of the variables' values of the SavedModel at `path` ("" without variables)."""
    prefix = os.path.join(path, "variables", "variables")
    if not tf.io.gfile.exists(prefix + ".index"):
        return ""
    reader = tf.train.load_checkpoint(prefix)
    tensors = []
    for key in reader.get_variable_to_shape_map():
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH":  # names objects, differs between exports
            value = np.ascontiguousarray(reader.get_tensor(key))
            header = f"{value.dtype}{value.shape}".encode()
            tensors.append(hashlib.sha256(header + value.tobytes()).digest())
    return hashlib.sha256(b"".join(sorted(tensors))).hexdigest()


def difference(recorded: dict, current: dict) -> str | None:
    """Why `current` is not the model of `recorded` (None when it is)."""
    if recorded["weights"] != current["weights"]:
        return f"weights {current['weights'][:12]} vs {recorded['weights'][:12]}"
    a, b = np.asarray(recorded["probe"]), np.asarray(current["probe"])
    if a.shape != b.shape:
        return f"embeddings of {b.shape[1]} values vs {a.shape[1]}"
    cosines = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    if not np.all(cosines >= PROBE_COSINE):
        return f"probe embeddings differ (cosine {np.min(cosines):.4f}): other preprocessing?"
    return None
