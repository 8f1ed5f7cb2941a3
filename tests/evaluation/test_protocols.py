import dataclasses
import os
import random

import numpy as np
import pytest
import scipy.io
import tensorflow as tf
from evaluation import reference_llcm
from PIL import Image

from tfreid.config import DataConfig, EvalConfig
from tfreid.data import llcm, regdb, sysu
from tfreid.data.samples import IR, RGB, Sample
from tfreid.evaluation.metrics import evaluate
from tfreid.evaluation.protocols import (
    evaluate_llcm,
    evaluate_protocol,
    evaluate_regdb,
    evaluate_sysu,
)
from tfreid.evaluation.reranking import re_ranking
from tfreid.evaluation.trials import sysu_galleries

H, W, D = 16, 8, 12
TEST_IDS, VAL_IDS = (1, 2, 3, 4, 5, 6), (7, 8)
ID_WEIGHT = 0.3  # share of the identity pattern in each image
MISSING = {(2, 2), (6, 3), (4, 5)}  # (camera, pid) folders that do not exist


def count(cam, pid):
    return 3 + (7 * pid + 3 * cam) % 10  # 3..12 images: multi-shot sees folders under 10


def person_image(rng_seed, pid, modality):
    """An identity's pattern plus per-image noise; IR is single-channel."""
    base = np.random.default_rng(pid).integers(0, 256, (H, W, 3))
    noise = np.random.default_rng(rng_seed).integers(0, 256, (H, W, 3))
    pixels = (ID_WEIGHT * base + (1 - ID_WEIGHT) * noise).round().astype(np.uint8)
    return pixels.mean(axis=-1).round().astype(np.uint8) if modality == "ir" else pixels


def save(path, pixels):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.fromarray(pixels).save(path, format="PNG")  # lossless: the reference sees the pixels


@pytest.fixture(scope="module")
def sysu_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sysu")
    for pid in TEST_IDS + VAL_IDS:
        for cam in range(1, 7):
            if (cam, pid) in MISSING:
                continue
            modality = "ir" if cam in sysu.IR_CAMERAS else "rgb"
            for i in range(count(cam, pid)):
                pixels = person_image([pid, cam, i], pid, modality)
                save(str(root / f"cam{cam}" / f"{pid:04d}" / f"{i + 1:04d}.jpg"), pixels)
    os.makedirs(root / "exp")
    for split, ids in (("train", (9,)), ("val", VAL_IDS), ("test", TEST_IDS)):
        (root / "exp" / f"{split}_id.txt").write_text(",".join(str(i) for i in ids))
    return str(root)


@pytest.fixture(scope="module")
def regdb_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("regdb")
    os.makedirs(root / "idx")
    test_ids = {1: (1, 2, 3, 4), 2: (3, 5, 6, 7)}
    for trial, ids in test_ids.items():
        for modality, folder in (("visible", "Visible"), ("thermal", "Thermal")):
            lines = []
            for label, pid in enumerate(ids):
                for i in range(4 if modality == "visible" else 3):
                    rel = f"{folder}/{pid}/{modality}_{i}.bmp"
                    kind = "ir" if modality == "thermal" else "rgb"
                    save(str(root / rel), person_image([pid, len(folder), i], pid, kind))
                    lines.append(f"{rel} {label}\n")
            (root / "idx" / f"test_{modality}_{trial}.txt").write_text("".join(lines))
    return str(root)


PROJECTION = np.random.default_rng(1).normal(size=(H * W, D))
IR_OFFSET = np.random.default_rng(2).normal(size=D)


def numpy_embed(images, modality):
    """Reference embedding: a fixed projection of the centred gray image, plus an IR offset."""
    gray = images.astype(np.float64).mean(axis=-1).reshape(len(images), -1) - 127.5
    return (gray @ PROJECTION + 50.0 * modality[:, None] * IR_OFFSET).astype(np.float32)


@tf.function
def embed_fn(images, modality):
    gray = tf.reduce_mean(tf.cast(images, tf.float64), axis=-1)
    flat = tf.reshape(gray, [tf.shape(images)[0], -1]) - 127.5
    offset = 50.0 * tf.cast(modality, tf.float64)[:, None] * IR_OFFSET
    return tf.cast(flat @ PROJECTION + offset, tf.float32)


def reference_features(samples, flip=False):
    images = np.stack([np.asarray(Image.open(s.path).convert("RGB")) for s in samples])
    modality = np.array([s.modality for s in samples])
    features = numpy_embed(images, modality)
    if flip:
        features = (features + numpy_embed(images[:, :, ::-1], modality)) / 2
    return features


def reference_distance(q, g):
    """Euclidean distance of the L2-normalised embeddings, written as sqrt(2 - 2 cos)."""
    q = q / np.linalg.norm(q, axis=1, keepdims=True)
    g = g / np.linalg.norm(g, axis=1, keepdims=True)
    return np.sqrt(np.maximum(2.0 - 2.0 * q.astype(np.float64) @ g.T.astype(np.float64), 0))


def reference_metrics(queries, gallery, protocol, rerank=False, flip=False):
    q, g = reference_features(queries, flip), reference_features(gallery, flip)
    distmat = reference_distance(q, g)
    if rerank:
        distmat = re_ranking(distmat, reference_distance(q, q), reference_distance(g, g))
    ids = [
        np.array([getattr(s, key) for s in samples])
        for key in ("pid", "camid")
        for samples in (queries, gallery)
    ]
    return evaluate(distmat, ids[0], ids[1], ids[2], ids[3], max_rank=20, protocol=protocol)


def cfgs(root, dataset="sysu", **eval_values):
    return DataConfig(dataset=dataset, root=root, height=H, width=W), EvalConfig(
        batch_size=16, **eval_values
    )


def assert_metrics_equal(got, expected):
    np.testing.assert_array_equal(got["cmc"][: len(expected["cmc"])], expected["cmc"])
    assert got["mAP"] == expected["mAP"] and got["mINP"] == expected["mINP"]


@pytest.fixture(scope="module")
def sysu_results(sysu_root):
    return evaluate_sysu(embed_fn, *cfgs(sysu_root), progress=False)


def test_sysu_runs_every_setting_and_trial(sysu_results):
    assert sysu_results["dataset"] == "sysu" and sysu_results["protocol"] == "seeded"
    assert sysu_results["trials"] == list(range(10))
    for mode in ("all", "indoor"):
        for shot in ("single", "multi"):
            summary = sysu_results["results"][mode][shot]
            per_trial = summary["per_trial"]
            assert [m["trial"] for m in per_trial] == list(range(10))
            for key in ("mAP", "mINP"):
                assert summary["mean"][key] == pytest.approx(np.mean([m[key] for m in per_trial]))
            cmc = np.mean([m["cmc"] for m in per_trial], axis=0)
            np.testing.assert_allclose(summary["mean"]["cmc"], cmc)
            assert summary["mean"]["cmc"].shape == (20,)
            assert summary["mean"]["cmc"][-1] == 1.0  # every query's match is in the gallery
            assert 0.0 < summary["mean"]["mAP"] <= 1.0


@pytest.mark.parametrize("mode,shots,trial", [("all", 1, 3), ("indoor", 10, 7)])
def test_sysu_trial_equals_evaluate_by_hand(sysu_root, sysu_results, mode, shots, trial):
    queries = sysu.query_samples(sysu_root)
    gallery = sysu.gallery_samples(sysu_root, mode, shots, trial)
    expected = reference_metrics(queries, gallery, "sysu")
    shot = "single" if shots == 1 else "multi"
    assert_metrics_equal(sysu_results["results"][mode][shot]["per_trial"][trial], expected)


def test_sysu_is_reproducible(sysu_root, sysu_results):
    again = evaluate_sysu(embed_fn, *cfgs(sysu_root), progress=False)
    for mode in ("all", "indoor"):
        for shot in ("single", "multi"):
            for a, b in zip(
                sysu_results["results"][mode][shot]["per_trial"],
                again["results"][mode][shot]["per_trial"],
                strict=True,
            ):
                assert_metrics_equal(a, b)


def test_sysu_embeds_each_image_once(sysu_root):
    embedded = tf.Variable(0)

    @tf.function
    def counting_embed_fn(images, modality):
        embedded.assign_add(tf.shape(images)[0])
        return embed_fn(images, modality)

    evaluate_sysu(counting_embed_fn, *cfgs(sysu_root), progress=False)
    galleries = {
        s
        for mode in ("all", "indoor")
        for shots in (1, 10)
        for trial in range(10)
        for s in sysu.gallery_samples(sysu_root, mode, shots, trial)
    }
    assert int(embedded.numpy()) == len(sysu.query_samples(sysu_root)) + len(galleries)


def test_sysu_on_given_pids_with_rerank_and_flip(sysu_root):
    data_cfg, eval_cfg = cfgs(
        sysu_root, modes=["all"], shots=[1], trials=2, rerank=True, flip_average=True
    )
    got = evaluate_protocol(embed_fn, data_cfg, eval_cfg, pids=list(VAL_IDS), progress=False)
    assert list(got["results"]) == ["all"] and list(got["results"]["all"]) == ["single"]
    assert got["rerank"] and got["flip"] and got["trials"] == [0, 1]
    queries = sysu.query_samples(sysu_root, pids=list(VAL_IDS))
    gallery = sysu.gallery_samples(sysu_root, "all", 1, 1, pids=list(VAL_IDS))
    expected = reference_metrics(queries, gallery, "sysu", rerank=True, flip=True)
    got_trial = got["results"]["all"]["single"]["per_trial"][1]
    np.testing.assert_allclose(got_trial["cmc"][: len(expected["cmc"])], expected["cmc"])
    assert got_trial["mAP"] == pytest.approx(expected["mAP"], abs=1e-9)


def write_permutations(path):
    """rand_perm_cam: 6 x 1 cells of (ids x 1) cells of 10 x n 1-based permutations."""
    rng = np.random.default_rng(5)
    cameras = np.empty((6, 1), dtype=object)
    perms = {}
    for cam in range(1, 7):
        persons = np.empty((max(TEST_IDS + VAL_IDS), 1), dtype=object)
        for pid in range(1, len(persons) + 1):
            if (cam, pid) in MISSING:
                persons[pid - 1, 0] = np.zeros((0, 0))
                continue
            perms[cam, pid] = np.stack([rng.permutation(count(cam, pid)) + 1 for _ in range(10)])
            persons[pid - 1, 0] = perms[cam, pid].astype(float)
        cameras[cam - 1, 0] = persons
    scipy.io.savemat(path, {"rand_perm_cam": cameras})
    return perms


def test_official_selection_changes_the_gallery(sysu_root, tmp_path):
    mat = str(tmp_path / "rand_perm_cam.mat")
    perms = write_permutations(mat)
    _, official_cfg = cfgs(sysu_root, protocol="official", permutation_file=mat, shots=[1])
    _, seeded_cfg = cfgs(sysu_root, shots=[1])
    official = sysu_galleries(sysu_root, official_cfg)
    seeded = sysu_galleries(sysu_root, seeded_cfg)
    assert official.keys() == seeded.keys()
    assert any(official[key] != seeded[key] for key in official)
    trial = 4
    expected = [
        (pid, cam, f"{perms[cam, pid][trial, 0]:04d}.jpg")
        for pid in TEST_IDS
        for cam in (1, 2)
        if (cam, pid) not in MISSING
    ]
    got = official["indoor", "single", trial]
    assert [(s.pid, s.camid, os.path.basename(s.path)) for s in got] == expected
    result = evaluate_sysu(embed_fn, *cfgs(sysu_root, **vars_of(official_cfg)), progress=False)
    assert result["protocol"] == "official"
    queries = sysu.query_samples(sysu_root)
    assert_metrics_equal(
        result["results"]["indoor"]["single"]["per_trial"][trial],
        reference_metrics(queries, got, "sysu"),
    )


def vars_of(eval_cfg):
    values = dataclasses.asdict(eval_cfg)
    values.pop("batch_size")
    return values


@pytest.mark.parametrize("rerank", [False, True])
def test_regdb_both_directions(regdb_root, rerank):
    data_cfg, eval_cfg = cfgs(regdb_root, "regdb", rerank=rerank)
    got = evaluate_regdb(embed_fn, data_cfg, eval_cfg, trials=[1, 2], progress=False)
    assert got["dataset"] == "regdb" and got["trials"] == [1, 2]
    for trial_index, trial in enumerate((1, 2)):
        visible = regdb.split_samples(regdb_root, trial, "test", "visible")
        thermal = regdb.split_samples(regdb_root, trial, "test", "thermal")
        for direction, queries, gallery in (
            ("visible_to_thermal", visible, thermal),
            ("thermal_to_visible", thermal, visible),
        ):
            per_trial = got["results"][direction]["per_trial"][trial_index]
            assert per_trial["trial"] == trial
            expected = reference_metrics(queries, gallery, "regdb", rerank=rerank)
            np.testing.assert_allclose(per_trial["cmc"][: len(expected["cmc"])], expected["cmc"])
            assert np.all(per_trial["cmc"][len(expected["cmc"]) :] == 1.0)
            assert per_trial["mAP"] == pytest.approx(expected["mAP"], abs=1e-12)
            assert per_trial["mINP"] == pytest.approx(expected["mINP"], abs=1e-12)
    for direction in ("visible_to_thermal", "thermal_to_visible"):
        runs = got["results"][direction]
        mean_map = np.mean([m["mAP"] for m in runs["per_trial"]])
        assert runs["mean"]["mAP"] == pytest.approx(mean_map)
    again = evaluate_regdb(embed_fn, data_cfg, eval_cfg, trials=[2], progress=False)
    assert_metrics_equal(
        again["results"]["thermal_to_visible"]["mean"],
        got["results"]["thermal_to_visible"]["per_trial"][1],
    )


def test_regdb_model_is_tested_on_its_own_trial(regdb_root):
    data_cfg, eval_cfg = cfgs(regdb_root, "regdb")
    data_cfg = dataclasses.replace(data_cfg, regdb_trial=2)
    assert evaluate_protocol(embed_fn, data_cfg, eval_cfg, progress=False)["trials"] == [2]


@pytest.mark.parametrize("dataset", ["sysu", "regdb"])
def test_example_gets_the_first_settings_samples_and_distances(sysu_root, regdb_root, dataset):
    root = sysu_root if dataset == "sysu" else regdb_root
    data_cfg, eval_cfg = cfgs(root, dataset, modes=["indoor"], shots=[10], trials=2)
    seen = []
    results = evaluate_protocol(
        embed_fn, data_cfg, eval_cfg, progress=False, example=lambda *a: seen.append(a)
    )
    ((queries, gallery, distmat),) = seen
    assert distmat.shape == (len(queries), len(gallery))
    if dataset == "sysu":
        assert gallery == sysu.gallery_samples(root, "indoor", 10, 0)
        first = results["results"]["indoor"]["multi"]["per_trial"][0]
        protocol = "sysu"
    else:
        assert queries == regdb.split_samples(root, 1, "test", "visible")
        first = results["results"]["visible_to_thermal"]["per_trial"][0]
        protocol = "regdb"
    assert_metrics_equal(first, reference_metrics(queries, gallery, protocol))


def test_regdb_argument_errors(regdb_root):
    with pytest.raises(ValueError, match="RegDB trials: expected distinct trials in 1..10"):
        evaluate_regdb(embed_fn, *cfgs(regdb_root, "regdb"), trials=[0], progress=False)
    with pytest.raises(ValueError, match="pids"):
        evaluate_protocol(embed_fn, *cfgs(regdb_root, "regdb"), pids=[1], progress=False)


# LLCM: (modality folder, camera, pid) folders of a tiny tree. Ids 3 and 8 are filmed by one
# camera in both modalities (the protocol drops those pairs); id 99 is not a test id.
LLCM_TEST_IDS = (3, 5, 8, 12)
LLCM_FOLDERS = [("test_vis", c, p) for c, p in ((1, 3), (2, 3), (3, 5), (4, 5), (2, 8))]
LLCM_FOLDERS += [("test_vis", c, p) for c, p in ((9, 8), (6, 12), (7, 12), (1, 99))]
LLCM_FOLDERS += [("test_nir", c, p) for c, p in ((1, 3), (5, 5), (2, 8), (4, 8), (8, 12))]
LLCM_FOLDERS += [("test_nir", c, p) for c, p in ((9, 12), (6, 99))]


@pytest.fixture(scope="module")
def llcm_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("llcm")
    for folder, camera, pid in LLCM_FOLDERS:
        kind = "ir" if folder == "test_nir" else "rgb"
        for i in range(2 + (pid + camera) % 4):
            pixels = person_image([pid, camera, len(folder), i], pid, kind)
            save(str(root / folder / f"cam{camera}" / f"{pid:04d}" / f"{i:04d}.jpg"), pixels)
    os.makedirs(root / "idx")
    (root / "idx" / "test_id.txt").write_text(",".join(map(str, LLCM_TEST_IDS)))
    return str(root)


def llcm_embeddings(root):
    """{path under the root: L2-normalised reference embedding} of every test image."""
    samples = llcm.test_samples(root, RGB) + llcm.test_samples(root, IR)
    features = reference_features(samples)
    features /= np.linalg.norm(features, axis=1, keepdims=True)
    return {os.path.relpath(s.path, root): f for s, f in zip(samples, features, strict=True)}


@pytest.fixture(scope="module")
def llcm_results(llcm_root):
    return evaluate_llcm(embed_fn, *cfgs(llcm_root, "llcm"), progress=False)


@pytest.mark.parametrize("direction", ["ir_to_vis", "vis_to_ir"])
def test_llcm_equals_the_port_of_the_authors_protocol(llcm_root, llcm_results, direction):
    expected = reference_llcm.protocol(llcm_root, llcm_embeddings(llcm_root), direction)
    got = llcm_results["results"][direction]
    assert [m["trial"] for m in got["per_trial"]] == list(range(10))
    for trial, (cmc, m_ap, m_inp) in zip(got["per_trial"], expected, strict=True):
        np.testing.assert_allclose(trial["cmc"][: len(cmc)], cmc, atol=1e-12)
        assert trial["mAP"] == pytest.approx(m_ap, abs=1e-9)
        assert trial["mINP"] == pytest.approx(m_inp, abs=1e-9)
    for key in ("mAP", "mINP"):
        values = [m[key] for m in got["per_trial"]]
        assert got["mean"][key] == pytest.approx(np.mean(values))
        assert got["std"][key] == pytest.approx(np.std(values, ddof=1))
    assert llcm_results["dataset"] == "llcm" and llcm_results["trials"] == list(range(10))


def test_llcm_vis_to_ir_ranks_the_nir_draw_against_every_visible_image(llcm_root, llcm_results):
    """The role swap of the authors' mode [2, 1]; without it the numbers differ."""
    trial = 4
    draw = llcm.gallery_samples(llcm_root, IR, trial)
    visible = llcm.test_samples(llcm_root, RGB)
    swapped = llcm_results["results"]["vis_to_ir"]["per_trial"][trial]
    assert_metrics_equal(swapped, reference_metrics(draw, visible, "llcm"))
    unswapped = reference_metrics(visible, draw, "llcm")
    assert (swapped["mAP"], swapped["mINP"]) != (unswapped["mAP"], unswapped["mINP"])


def test_llcm_embeds_every_test_image_once(llcm_root, llcm_results):
    samples = llcm_results["embedded"].samples
    assert len(samples) == len(set(samples))
    assert set(samples) == set(llcm.test_samples(llcm_root, RGB) + llcm.test_samples(llcm_root, IR))
    np.testing.assert_allclose(
        llcm_results["embedded"].features, reference_features(samples), rtol=1e-4, atol=1e-3
    )


def test_llcm_example_hides_the_removed_pairs(llcm_root):
    seen = []
    evaluate_protocol(
        embed_fn,
        *cfgs(llcm_root, "llcm", trials=1),
        progress=False,
        example=lambda *a: seen.append(a),
    )
    ((queries, gallery, distmat),) = seen
    assert queries == llcm.test_samples(llcm_root, IR)  # ir_to_vis, trial 0
    assert gallery == llcm.gallery_samples(llcm_root, RGB, 0)
    for q, query in enumerate(queries):
        for g, image in enumerate(gallery):
            hidden = image.pid == query.pid and image.camid == query.camid
            assert np.isinf(distmat[q, g]) == hidden


def seeded_draw(root, cameras, trial):
    """SYSU single-modality gallery written out: random.seed(trial), one choice per (id,
    camera) of `cameras` that has a folder, files sorted."""
    random.seed(trial)
    draw = []
    for pid in TEST_IDS:
        for cam in cameras:
            folder = os.path.join(root, f"cam{cam}", f"{pid:04d}")
            if os.path.isdir(folder):
                name = random.choice(sorted(os.listdir(folder)))
                draw.append(Sample(os.path.join(folder, name), pid, cam, int(cam in (3, 6))))
    return draw


def test_sysu_single_modality_settings(sysu_root):
    data_cfg, eval_cfg = cfgs(
        sysu_root, cross_modality=False, single_modality=["rgb_to_rgb", "ir_to_ir"], trials=3
    )
    got = evaluate_sysu(embed_fn, data_cfg, eval_cfg, progress=False)
    assert list(got["results"]) == ["single_modality"]
    for name, cameras in (("ir_to_ir", (3, 6)), ("rgb_to_rgb", (1, 2, 4, 5))):
        queries = sysu.query_samples(sysu_root, cameras=cameras)
        assert {q.camid for q in queries} == set(cameras)
        for trial in range(3):
            expected = reference_metrics(
                queries, seeded_draw(sysu_root, cameras, trial), "cross_camera"
            )
            assert_metrics_equal(
                got["results"]["single_modality"][name]["per_trial"][trial], expected
            )
