"""Index and query against a brute-force search over the SavedModel's own embeddings; add,
remove, atomic changes, and the index's memory of its model and format."""

import glob
import json
import os
import shutil
import sqlite3

import faiss
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from serving_harness import saved_model_embeddings

from tfreid.cli import UsageError
from tfreid.evaluation.features import distance
from tfreid.search import commands, store
from tfreid.search.vectors import VectorSettings

RGB, IR = 0, 1


def brute_force(saved_model, gallery_paths, query_paths, top_k):
    """Per query: the top-k (path, distance) of a plain cosine search over embeddings made
    image by image."""
    gallery = saved_model_embeddings(saved_model, gallery_paths, RGB)
    queries = saved_model_embeddings(saved_model, query_paths, IR)
    dist = distance(queries, gallery)
    order = np.argsort(dist, axis=1, kind="stable")[:, :top_k]
    return [[(gallery_paths[g], dist[q, g]) for g in row] for q, row in enumerate(order)]


def assert_same_ranking(entries, expected, query_paths):
    assert [entry["query"] for entry in entries] == query_paths
    for entry, truth in zip(entries, expected, strict=True):
        assert [m["path"] for m in entry["matches"]] == [path for path, _ in truth]
        np.testing.assert_allclose(
            [m["distance"] for m in entry["matches"]], [d for _, d in truth], atol=2e-5
        )


def mixed_size_gallery(source_dir, target):
    """The images of `source_dir` (a camera folder) copied at three sizes, in the same layout:
    each is resized to the model's size before it is embedded."""
    paths = sorted(glob.glob(os.path.join(source_dir, "*", "*.jpg")))
    sizes = [(16, 32), (24, 40), (20, 64)]
    for number, path in enumerate(paths):
        out = os.path.join(target, "cam1", os.path.basename(os.path.dirname(path)))
        os.makedirs(out, exist_ok=True)
        with Image.open(path) as image:
            image.resize(sizes[number % 3]).save(os.path.join(out, os.path.basename(path)))
    return sorted(glob.glob(os.path.join(target, "cam1", "*", "*.jpg")))


@pytest.fixture(scope="module")
def exact_index(saved_model, sysu_set, tmp_path_factory):
    """An exact index of camera 1 at mixed sizes; (index path, gallery paths, query paths)."""
    base = tmp_path_factory.mktemp("exact")
    gallery = mixed_size_gallery(os.path.join(sysu_set, "cam1"), str(base / "gallery"))
    settings = VectorSettings()
    commands.build(
        saved_model, str(base / "gallery"), RGB, str(base / "idx"), settings, batch_size=5
    )
    queries = sorted(glob.glob(os.path.join(sysu_set, "cam3", "*", "*.jpg")))[::9]
    return str(base / "idx"), gallery, queries


def test_query_returns_the_brute_force_top_k(saved_model, exact_index, tmp_path):
    index, gallery, queries = exact_index
    entries = commands.search(index, queries, IR, 10, str(tmp_path / "out.json"))
    assert_same_ranking(entries, brute_force(saved_model, gallery, queries, 10), queries)
    assert json.loads((tmp_path / "out.json").read_text()) == entries
    ids = [m["id"] for m in entries[0]["matches"]]
    assert ids == [int(os.path.basename(os.path.dirname(m["path"]))) for m in entries[0]["matches"]]
    assert not any(entry["no_match"] for entry in entries)  # no threshold: never "no match"


@pytest.mark.parametrize("kind", ["hnsw", "ivf"])
def test_approximate_indexes_search_a_tiny_gallery_exactly(
    saved_model, exact_index, kind, tmp_path
):
    """With every cell probed (ivf) or a candidate list longer than the gallery (hnsw), the
    approximate indexes must give the exact answer: their ids map to the right images."""
    _, gallery, queries = exact_index
    settings = VectorSettings(kind=kind, nlist=4, nprobe=4)
    folder = os.path.dirname(os.path.dirname(os.path.dirname(gallery[0])))
    commands.build(saved_model, folder, RGB, str(tmp_path / "idx"), settings)
    entries = commands.search(str(tmp_path / "idx"), queries, IR, 10, str(tmp_path / "out.json"))
    assert_same_ranking(entries, brute_force(saved_model, gallery, queries, 10), queries)


@pytest.mark.parametrize("kind", ["exact", "hnsw", "ivf"])
def test_add_and_remove_change_the_index_as_a_rebuild_would(saved_model, sysu_set, kind, tmp_path):
    settings = VectorSettings(kind=kind, nlist=2, nprobe=2)
    cam1, cam2 = (os.path.join(sysu_set, f"cam{c}") for c in (1, 2))
    index = str(tmp_path / "idx")
    commands.build(saved_model, cam1, RGB, index, settings)
    assert commands.add(index, cam2, RGB) == (len(glob.glob(cam2 + "/*/*.jpg")), 0)
    assert commands.add(index, cam2, RGB) == (0, len(glob.glob(cam2 + "/*/*.jpg")))
    removed_person = sorted(os.listdir(cam1))[0]
    removed = commands.remove(index, [os.path.join(cam1, removed_person)])
    assert removed == len(os.listdir(os.path.join(cam1, removed_person)))
    kept = sorted(
        p for p in glob.glob(cam1 + "/*/*.jpg") + glob.glob(cam2 + "/*/*.jpg")
        if f"/{removed_person}/" not in p or "/cam2/" in p
    )  # fmt: skip
    opened = store.open_index(index)
    assert sorted(s.path for s in opened.images.values()) == kept
    assert opened.vectors.ntotal == len(kept)
    queries = sorted(glob.glob(os.path.join(sysu_set, "cam6", "*", "*.jpg")))[::15]
    entries = commands.search(index, queries, IR, 5, str(tmp_path / "out.json"))
    assert_same_ranking(entries, brute_force(saved_model, kept, queries, 5), queries)


def test_a_failed_change_leaves_the_previous_index(saved_model, exact_index, sysu_set, monkeypatch):
    """A change that dies after writing its vectors (a full disk here) rolls back: the same
    images, the same answers, no file of the change left."""
    index, _, queries = exact_index
    before = store.open_index(index)
    files = sorted(os.listdir(index))
    written = faiss.write_index

    def full_disk(vectors, path):
        written(vectors, path)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(faiss, "write_index", full_disk)
    with pytest.raises(OSError, match="No space left"):
        commands.add(index, os.path.join(sysu_set, "cam2"), RGB)
    monkeypatch.undo()
    after = store.open_index(index)
    assert sorted(os.listdir(index)) == files
    assert after.images == before.images and after.info == before.info
    assert after.vectors.ntotal == before.vectors.ntotal


def test_files_of_a_killed_change_are_ignored_then_removed(exact_index, sysu_set):
    """A kill between writing the new vectors and committing leaves an unnamed faiss file: the
    index reads as before, and the next change deletes it."""
    index, _, _ = exact_index
    stray = os.path.join(index, "vectors-0123456789abcdef.faiss")
    with open(stray, "wb") as f:
        f.write(b"half a faiss file")
    assert len(store.open_index(index).images) > 0
    store.update_info(index, threshold=None)
    assert not os.path.exists(stray)
    assert len(glob.glob(os.path.join(index, "vectors-*.faiss"))) == 1


def test_another_model_and_another_format_are_refused(
    saved_model, other_saved_model, exact_index, tmp_path
):
    index, _, queries = exact_index
    with pytest.raises(UsageError, match=f"{other_saved_model} is not the model index .* built"):
        commands.search(
            index, queries, IR, 5, str(tmp_path / "o.json"), saved_model=other_saved_model
        )
    copy = str(tmp_path / "old")
    commands.build(
        saved_model, os.path.dirname(os.path.dirname(queries[0])), IR, copy, VectorSettings()
    )
    with sqlite3.connect(os.path.join(copy, store.DATABASE)) as db:
        db.execute("UPDATE info SET value = '0' WHERE key = 'format_version'")
    with pytest.raises(UsageError, match="format version 0; this tfreid reads version 1"):
        store.open_index(copy)


def test_a_moved_saved_model_is_still_the_index_model(saved_model, exact_index, tmp_path):
    """The index names its SavedModel by path and fingerprint: the model copied elsewhere is
    accepted with --saved-model; with the recorded path gone, the index says so."""
    index, _, queries = exact_index
    moved = str(tmp_path / "moved")
    shutil.copytree(saved_model, moved)
    entries = commands.search(
        index, queries[:1], IR, 3, str(tmp_path / "o.json"), saved_model=moved
    )
    assert len(entries[0]["matches"]) == 3
    relocated = store.open_index(index)
    relocated.info["model"] = {**relocated.info["model"], "path": str(tmp_path / "gone")}
    with pytest.raises(UsageError, match="gone; give its new place with --saved-model"):
        commands.index_model(relocated)


class ColourMeans(tf.Module):
    """Anyone's SavedModel with tfreid's signature: no resize inside, any size in."""

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
            tf.TensorSpec([None], tf.int32, name="modality"),
        ]
    )
    def serve(self, image, modality):
        means = tf.reduce_mean(tf.cast(image, tf.float32), axis=[1, 2]) + 1.0
        return {"embedding": tf.concat([means, tf.cast(modality, tf.float32)[:, None]], 1)}


def test_the_input_size_is_read_from_the_saved_model_or_given(saved_model, gallery_dir, tmp_path):
    from tfreid.search.model import input_size

    assert input_size(saved_model) == (32, 16)
    module = ColourMeans()
    other = str(tmp_path / "colour_means")
    tf.saved_model.save(module, other, signatures={"serving_default": module.serve})
    assert input_size(other) is None
    with pytest.raises(UsageError, match="give --input-size HEIGHTxWIDTH"):
        commands.build(other, gallery_dir, RGB, str(tmp_path / "a"), VectorSettings())
    index = commands.build(
        other, gallery_dir, RGB, str(tmp_path / "b"), VectorSettings(), size=(8, 4)
    )
    assert index.info["model"]["input_size"] == [8, 4] and index.info["dim"] == 4


def test_rerank_over_a_small_gallery_is_re_ranking_over_everything(
    saved_model, exact_index, tmp_path
):
    """With more candidates than images, the union is the gallery: the order and re-ranked
    distances are those of `re_ranking` on the full brute-force matrices."""
    from tfreid.evaluation.reranking import re_ranking

    index, gallery, queries = exact_index
    entries = commands.search(
        index, queries, IR, 5, str(tmp_path / "r.json"), rerank_candidates=len(gallery) + 10
    )
    g = saved_model_embeddings(saved_model, gallery, RGB)
    q = saved_model_embeddings(saved_model, queries, IR)
    final = re_ranking(distance(q, g), distance(q, q), distance(g, g))
    for row, entry in enumerate(entries):
        order = np.argsort(final[row], kind="stable")[:5]
        assert [m["path"] for m in entry["matches"]] == [gallery[i] for i in order]
        np.testing.assert_allclose(
            [m["reranked_distance"] for m in entry["matches"]], final[row, order], atol=1e-5
        )
        np.testing.assert_allclose(
            [m["distance"] for m in entry["matches"]],
            distance(q[row : row + 1], g)[0, order],
            atol=2e-5,
        )


def test_an_ivf_index_trains_on_a_sample_and_still_finds_every_vector(monkeypatch):
    """Beyond TRAINING_PER_CELL vectors a cell, k-means sees a seeded sample; the index still
    holds every vector, and probing every cell is an exact search."""
    from tfreid.search import vectors as faiss_side

    monkeypatch.setattr(faiss_side, "TRAINING_PER_CELL", 40)
    rng = np.random.default_rng(3)
    gallery = faiss_side.prepared(rng.normal(size=(1000, 16)).astype(np.float32), "cosine")
    trained = []

    def train(index, vectors):
        trained.append(len(vectors))
        faiss.IndexIVF.train(index, vectors)

    monkeypatch.setattr(faiss.IndexIVFFlat, "train", train)
    settings = VectorSettings(kind="ivf", nlist=4, nprobe=4)
    index = faiss_side.build(settings, gallery, np.arange(1000) + 7)
    assert trained == [160] and index.ntotal == 1000
    queries = gallery[:20]
    _, expected = faiss_side.build(VectorSettings(), gallery, np.arange(1000) + 7).search(
        queries, 5
    )
    _, found = index.search(queries, 5)
    np.testing.assert_array_equal(found, expected)
