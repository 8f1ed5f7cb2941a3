"""Embedding image files of any size with a SavedModel, batch by batch.

The embedding of an image is the SavedModel's output for the decoded file at its own size (the
signature resizes inside), decoded by the input pipeline's `decode_image` (1-channel files as
gray, IR images as three equal channels). Images are batched with others of the same size:
decoded in parallel, held in per-size buckets, and a bucket is embedded when it is full, or,
when more images are waiting than `4 * batch_size`, the fullest one; so memory stays bounded
whatever the mix of sizes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from tqdm import tqdm

from tfreid.data.check import name_unreadable
from tfreid.data.pipeline import decode_image
from tfreid.data.samples import Sample

EmbedFn = Callable[[np.ndarray, np.ndarray], object]


def embed_images(
    embed_fn: EmbedFn,
    samples: Sequence[Sample],
    batch_size: int = 32,
    progress: bool = True,
    desc: str = "embedding",
) -> np.ndarray:
    """float32 [len(samples), D]: the embedding of every sample, in the samples' order.

    Raises:
        DatasetError: naming the files the pipeline cannot read.
    """
    paths = tf.constant([str(s.path) for s in samples], tf.string)
    modalities = tf.constant([s.modality for s in samples], tf.int32)
    decoded = (
        tf.data.Dataset.from_tensor_slices((tf.range(len(samples)), paths, modalities))
        .map(
            lambda index, path, modality: (index, decode_image(path, modality)),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        .prefetch(tf.data.AUTOTUNE)
    )
    modality = np.array([s.modality for s in samples], np.int32)
    rows: dict[int, np.ndarray] = {}
    buckets: dict[tuple[int, int], list[tuple[int, np.ndarray]]] = {}
    with tqdm(total=len(samples), desc=desc, unit="img", disable=not progress) as bar:

        def flush(size):
            indices, images = zip(*buckets.pop(size), strict=True)
            embeddings = np.asarray(embed_fn(np.stack(images), modality[list(indices)]))
            rows.update(zip(indices, embeddings, strict=True))
            bar.update(len(indices))

        try:
            for index, image in decoded.as_numpy_iterator():
                buckets.setdefault(image.shape[:2], []).append((int(index), image))
                if len(buckets[image.shape[:2]]) == batch_size:
                    flush(image.shape[:2])
                elif sum(map(len, buckets.values())) > 4 * batch_size:
                    flush(max(buckets, key=lambda size: len(buckets[size])))
        except tf.errors.OpError as err:
            raise name_unreadable(samples, err, "embedding") from err
        while buckets:
            flush(next(iter(buckets)))
    return np.stack([rows[i] for i in range(len(samples))]).astype(np.float32)
