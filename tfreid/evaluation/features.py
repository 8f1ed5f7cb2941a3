"""Embeddings of image lists and the distances between them.

An embedding function `embed_fn(images, modality)` takes uint8 [B, H, W, 3] images and int32 [B]
modalities (0 = RGB, 1 = IR) and returns float32 [B, D] embeddings; preprocessing and
normalisation happen inside it, so in-process evaluation and an exported SavedModel see the same
inputs. It is a `tf.function` around a Keras model or a SavedModel's `serving_default` signature
(`saved_model_embed_fn`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from tfreid.config import DataConfig
from tfreid.data.check import name_unreadable
from tfreid.data.pipeline import eval_dataset
from tfreid.data.samples import Sample
from tfreid.errors import first_line

EmbedFn = Callable[[tf.Tensor, tf.Tensor], tf.Tensor]
METRICS = ("cosine", "euclidean")


def saved_model_embed_fn(path: str) -> EmbedFn:
    """The `serving_default` signature of an exported SavedModel as an embedding function.

    The function refuses images that are not uint8 (and modalities that are not integers)
    before TensorFlow sees them: the signature's own argument conversion would cast a NumPy
    float array to uint8 without a word (a [0, 1] image becomes a black one), and nothing
    inside a SavedModel can see the dtype it was called with.

    Args:
        path: SavedModel directory whose `serving_default` signature takes `image` uint8
            [batch, h, w, 3] and `modality` int32 [batch] and returns {"embedding": float32
            [batch, dim]}.

    Raises:
        ValueError: when the directory holds no such signature; the returned function raises
            it for images that are not uint8.
    """
    if not tf.saved_model.contains_saved_model(path):
        raise ValueError(f"{path} is not a SavedModel directory (no saved_model.pb)")
    try:
        loaded = tf.saved_model.load(path)
    except Exception as err:  # a damaged file fails in protobuf, TensorFlow or the loader
        raise ValueError(f"SavedModel {path} cannot be loaded: {first_line(err)}") from None
    if "serving_default" not in loaded.signatures:
        found = ", ".join(sorted(loaded.signatures)) or "none"
        raise ValueError(f"SavedModel {path} has no 'serving_default' signature (found: {found})")
    signature = loaded.signatures["serving_default"]
    inputs = set(signature.structured_input_signature[1])
    if inputs != {"image", "modality"} or "embedding" not in signature.structured_outputs:
        raise ValueError(
            f"SavedModel {path}: serving_default must take 'image' and 'modality' and return "
            f"'embedding', got inputs {sorted(inputs)} and outputs "
            f"{sorted(signature.structured_outputs)}"
        )

    def embed(images: tf.Tensor, modality: tf.Tensor) -> tf.Tensor:
        require_uint8_images(images, modality)
        # `loaded` stays referenced here: the signature's variables live as long as it does.
        return loaded.signatures["serving_default"](image=images, modality=modality)["embedding"]

    return embed


def require_uint8_images(images, modality) -> None:
    """Raises ValueError unless `images` are uint8 and `modality` integers (NumPy or tensors)."""
    image_dtype = _dtype(images)
    if image_dtype != tf.uint8:
        raise ValueError(
            f"image must be uint8 [batch, height, width, 3 or 1] pixel values 0-255, got "
            f"{getattr(image_dtype, 'name', image_dtype)}; convert it first (a float image in "
            "[0, 1]: np.round(np.clip(x, 0, 1) * 255).astype(np.uint8)): TensorFlow would cast "
            "it without scaling or rounding"
        )
    modality_dtype = _dtype(modality)
    if not getattr(modality_dtype, "is_integer", False):
        name = getattr(modality_dtype, "name", modality_dtype)
        raise ValueError(f"modality must be integers, 0 (RGB) or 1 (IR), got {name}")


def _dtype(values) -> tf.DType | str:
    """The TensorFlow dtype of a tensor, array or nested list (its name if it has none)."""
    dtype = getattr(values, "dtype", None)
    if dtype is None:
        dtype = np.asarray(values).dtype
    try:
        return tf.as_dtype(dtype)
    except TypeError:  # object arrays, strings of NumPy
        return str(dtype)


def _batch_embedder(embed_fn: EmbedFn, height: int, width: int, flip: bool) -> EmbedFn:
    """`embed_fn` traced once for every batch size (the last batch is usually smaller)."""
    spec = (
        tf.TensorSpec([None, height, width, 3], tf.uint8),
        tf.TensorSpec([None], tf.int32),
    )

    def checked(images, modality):
        embeddings = embed_fn(images, modality)
        if embeddings.dtype != tf.float32 or embeddings.shape.rank != 2:
            raise ValueError(
                f"embed_fn must return float32 [batch, dim], got {embeddings.dtype.name} "
                f"{embeddings.shape}"
            )
        return embeddings

    @tf.function(input_signature=spec)
    def embed(images, modality):
        embeddings = checked(images, modality)
        if flip:  # test-time augmentation: the mean with the horizontal mirror's embedding
            embeddings = (embeddings + checked(tf.reverse(images, axis=[2]), modality)) / 2.0
        return embeddings

    return embed


def extract_features(
    embed_fn: EmbedFn,
    samples: Sequence[Sample],
    data_cfg: DataConfig,
    batch_size: int = 64,
    flip: bool = False,
    progress: bool = True,
    desc: str = "embedding",
) -> np.ndarray:
    """Embeds every sample, batch by batch, in the samples' order.

    Args:
        embed_fn: see the module docstring.
        samples: the images to embed.
        data_cfg: data_cfg.height and data_cfg.width give the image size fed to `embed_fn`.
        batch_size: images per call of `embed_fn`.
        flip: average each embedding with that of the horizontally mirrored image.
        progress: show a tqdm progress bar.
        desc: the progress bar's label.

    Returns:
        float32 [len(samples), D].
    """
    embed = _batch_embedder(embed_fn, data_cfg.height, data_cfg.width, flip)
    batches = eval_dataset(samples, data_cfg, batch_size)
    total = math.ceil(len(samples) / batch_size)
    try:
        chunks = [
            embed(batch["image"], batch["modality"]).numpy()
            for batch in tqdm(batches, total=total, desc=desc, unit="batch", disable=not progress)
        ]
    except tf.errors.OpError as err:
        raise name_unreadable(samples, err, "evaluation") from err
    features = np.concatenate(chunks, axis=0)
    if len(features) != len(samples):
        raise RuntimeError(f"embed_fn returned {len(features)} rows for {len(samples)} images")
    return features


def distance(q: np.ndarray, g: np.ndarray, metric: str = "cosine") -> np.ndarray:
    """Pairwise distances (smaller is closer), computed in float64.

    "cosine" is the Euclidean distance between the L2-normalised embeddings,
    sqrt(2 - 2 cos(q, g)) in [0, 2]: it ranks exactly as 1 - cos and, being a true Euclidean
    distance, re-ranking's squaring turns it into the squared distance of normalised features
    that k-reciprocal re-ranking is defined on. "euclidean" is the plain (not squared) distance.

    Args:
        q: float [num_q, D] embeddings.
        g: float [num_g, D] embeddings.
        metric: "cosine" or "euclidean".

    Returns:
        float64 [num_q, num_g].
    """
    if metric not in METRICS:
        raise ValueError(f"distance metric must be one of {METRICS}, got {metric!r}")
    q = np.asarray(q, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if q.ndim != 2 or g.ndim != 2 or q.shape[1] != g.shape[1]:
        raise ValueError(f"expected [num_q, D] and [num_g, D] embeddings, got {q.shape}, {g.shape}")
    if metric == "cosine":
        q = l2_normalise(q, "query")
        g = l2_normalise(g, "gallery")
    squared = (q * q).sum(1)[:, None] + (g * g).sum(1)[None, :] - 2.0 * q @ g.T
    return np.sqrt(np.maximum(squared, 0.0))


def l2_normalise(x: np.ndarray, what: str) -> np.ndarray:
    """Rows of `x` [N, D] divided by their L2 norms; a zero row is an error naming `what`."""
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise ValueError(
            f"{what} embedding {int(np.flatnonzero(norms == 0)[0])} is all zeros; "
            "cosine distance is undefined for it"
        )
    return x / norms
