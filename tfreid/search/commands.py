"""What each `tools/search.py` command does, as functions (the tool only parses arguments)."""

from __future__ import annotations

import json
import os
import sys

import numpy as np

from tfreid.config import DataConfig
from tfreid.data.samples import MODALITY_NAMES, Sample
from tfreid.errors import UsageError
from tfreid.evaluation.features import extract_features
from tfreid.files import atomic_write, check_writable
from tfreid.search import query as search_query
from tfreid.search.calibrate import Calibration, calibrate
from tfreid.search.images import collect_images, image_sample
from tfreid.search.model import difference, input_size, load_model
from tfreid.search.report import write_html
from tfreid.search.store import (
    GalleryIndex,
    add_images,
    check_new_index,
    create_index,
    open_index,
    remove_images,
    update_info,
)
from tfreid.search.vectors import VectorSettings


def build(
    saved_model: str,
    directory: str,
    modality: int,
    index_path: str,
    settings: VectorSettings,
    split: str | None = None,
    overwrite: bool = False,
    batch_size: int = 32,
    size: tuple[int, int] | None = None,
) -> GalleryIndex:
    """`index`: every image of `directory` for `modality`, embedded into a new index; `size`
    overrides the input size read from the SavedModel."""
    check_new_index(index_path, overwrite)
    samples = collect_images(directory, modality, split)
    try:  # before the embedding: an ivf index needs enough images for its cells
        settings = settings.for_gallery(len(samples))
    except ValueError as err:
        raise UsageError(f"--kind {settings.kind}: {err}") from None
    size = size or input_size(saved_model)
    if size is None:
        raise UsageError(
            f"the input size of SavedModel {saved_model} cannot be read from its graph (no "
            "single fixed-size resize); give --input-size HEIGHTxWIDTH"
        )
    embed, fingerprint = load_model(saved_model)
    embeddings = embed_images(embed, samples, size, batch_size)
    model = {"path": os.path.abspath(saved_model), "fingerprint": fingerprint, "input_size": size}
    return create_index(index_path, samples, embeddings, model, settings)


def embed_images(embed, samples: list[Sample], size, batch_size: int, desc="embedding"):
    """float32 [N, D]: the images embedded as the evaluation embeds them: decoded by the input
    pipeline, resized to the model's input `size` (height, width) and rounded to uint8, then
    given to the SavedModel (`tfreid.evaluation.features.extract_features`).

    Raises:
        DatasetError: naming the files the pipeline cannot read.
    """
    data_cfg = DataConfig(height=int(size[0]), width=int(size[1]))
    # The pipeline carries ids and cameras as tensors; images outside a layout have None.
    readable = [Sample(s.path, 0, 0, s.modality) for s in samples]
    return extract_features(embed, readable, data_cfg, batch_size, desc=desc)


def add(
    index_path: str,
    directory: str,
    modality: int,
    saved_model: str | None = None,
    split: str | None = None,
    batch_size: int = 32,
) -> tuple[int, int]:
    """`add`: the images of `directory` the index does not hold yet; (added, already held)."""
    index = open_index(index_path)
    embed = index_model(index, saved_model)
    held = {image.path for image in index.images.values()}
    samples = collect_images(directory, modality, split)
    new = [s for s in samples if os.path.abspath(s.path) not in held]
    size = index.info["model"]["input_size"]
    added = add_images(index_path, new, embed_images(embed, new, size, batch_size)) if new else 0
    return added, len(samples) - added


def remove(index_path: str, paths: list[str]) -> int:
    """`remove`: the images at or under `paths`; how many were removed."""
    return remove_images(index_path, paths)


def index_model(index: GalleryIndex, saved_model: str | None = None):
    """The embedding function of the index's SavedModel (or of `saved_model`, which must be
    the same model).

    Raises:
        UsageError: the SavedModel is gone, or it is another model (fingerprints differ).
    """
    recorded = index.info["model"]
    path = saved_model or recorded["path"]
    if saved_model is None and not os.path.isdir(path):
        raise UsageError(
            f"the SavedModel index {index.path} was built with, {path}, is gone; give its new "
            "place with --saved-model"
        )
    embed, fingerprint = load_model(path)
    different = difference(recorded["fingerprint"], fingerprint)
    if different:
        raise UsageError(
            f"SavedModel {path} is not the model index {index.path} was built with "
            f"({recorded['path']}): {different}; build an index with this model"
        )
    return embed


def query_samples(paths: list[str], modality: int) -> list[Sample]:
    """The query images: files as given, folders expanded (`collect_images`)."""
    samples = []
    for path in paths:
        if os.path.isdir(path):
            samples += collect_images(path, modality)
        elif os.path.lexists(path):
            samples.append(image_sample(path, modality))
        else:
            raise FileNotFoundError(f"query image {path} does not exist")
    return samples


def search(
    index_path: str,
    paths: list[str],
    modality: int,
    top_k: int,
    json_path: str,
    html_path: str | None = None,
    threshold: float | None = None,
    rerank_candidates: int | None = None,
    saved_model: str | None = None,
    batch_size: int = 32,
) -> list[dict]:
    """`query`: the ranked matches of every query image, written as JSON (and HTML)."""
    for output in filter(None, (json_path, html_path)):
        check_writable(output, "output")
    index = open_index(index_path)
    if top_k > len(index.images):
        raise UsageError(f"--top-k {top_k} exceeds the gallery's {len(index.images)} images")
    threshold = _threshold(index, threshold)
    embed = index_model(index, saved_model)
    samples = query_samples(paths, modality)
    _note_same_modality(index, modality)
    embeddings = embed_images(
        embed, samples, index.info["model"]["input_size"], batch_size, "queries"
    )
    if rerank_candidates is None:
        results = search_query.ranked(index, embeddings, top_k)
    else:
        results = search_query.reranked(index, embeddings, top_k, rerank_candidates)
    entries = search_query.entries(index, [s.path for s in samples], results, threshold)
    atomic_write(json_path, lambda f: f.write(json.dumps(entries, indent=1) + "\n"))
    if html_path:
        title = f"{len(samples)} {MODALITY_NAMES[modality]} queries against {index.path}"
        write_html(html_path, entries, samples, title, threshold)
    return entries


def calibrate_threshold(
    index_path: str,
    directory: str,
    modality: int,
    target: float,
    split: str | None = None,
    saved_model: str | None = None,
    batch_size: int = 32,
) -> Calibration:
    """`calibrate`: the threshold at `target` false-match rate on a labelled split, stored
    with the index (`tfreid.search.calibrate`)."""
    index = open_index(index_path)
    embed = index_model(index, saved_model)
    gallery_modality = _single_modality(index)
    queries = collect_images(directory, modality, split)
    gallery = collect_images(directory, gallery_modality, split)
    unlabelled = [s.path for s in queries + gallery if s.pid is None]
    if unlabelled:
        raise UsageError(
            f"calibration needs ids: {unlabelled[0]} (and {len(unlabelled) - 1} more) is not in "
            "a SYSU-MM01 or RegDB layout"
        )
    _note_same_modality(index, modality)
    size = index.info["model"]["input_size"]
    result = calibrate(
        embed_images(embed, queries, size, batch_size, "queries"),
        np.array([s.pid for s in queries]),
        embed_images(embed, gallery, size, batch_size, "gallery"),
        np.array([s.pid for s in gallery]),
        index.settings.metric,
        target,
    )
    source = {"images": os.path.abspath(directory), "split": split, "gallery_images": len(gallery)}
    update_info(index_path, threshold=result.threshold, calibration={**result.as_dict(), **source})
    return result


def _threshold(index: GalleryIndex, given: float | None) -> float | None:
    """`given` (checked against the metric's range) or the index's calibrated threshold."""
    if given is None:
        return index.threshold
    if index.settings.metric == "cosine" and not 0.0 <= given <= 2.0:
        raise UsageError(f"--threshold must be a cosine distance in [0, 2], got {given}")
    return given


def _single_modality(index: GalleryIndex) -> int:
    modalities = {image.modality for image in index.images.values()}
    if len(modalities) != 1:
        raise UsageError(f"index {index.path} holds both modalities; calibration needs one")
    return modalities.pop()


def _note_same_modality(index: GalleryIndex, modality: int) -> None:
    if all(image.modality == modality for image in index.images.values()):
        name = MODALITY_NAMES[modality].upper()
        print(
            f"note: the queries are {name} like the whole gallery: a same-modality search "
            "(allowed; tfreid's models are trained to match across modalities)",
            file=sys.stderr,
        )
