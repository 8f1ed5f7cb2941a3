"""Synthetic SYSU-MM01 / RegDB / LLCM writers: real layouts, determinism, a real modality gap,
the CLI."""

import dataclasses
import os
import re
import time
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import scipy.stats
from PIL import Image
from tools_harness import finish, run, start

from tfreid.data import (
    cameras,
    llcm,
    pedestrians,
    regdb,
    render,
    styles,
    synthetic,
    synthetic_llcm,
    sysu,
)
from tfreid.data.samples import IR, RGB

SYSU_IDS, REGDB_IDS, LLCM_IDS, HEIGHT, WIDTH = 10, 8, 9, 64, 32


@pytest.fixture(scope="module")
def sysu_root(tmp_path_factory):
    return synthetic.write_sysu(str(tmp_path_factory.mktemp("sysu")), SYSU_IDS, 0, HEIGHT, WIDTH)


@pytest.fixture(scope="module")
def regdb_root(tmp_path_factory):
    return synthetic.write_regdb(str(tmp_path_factory.mktemp("regdb")), REGDB_IDS, 0, HEIGHT, WIDTH)


@pytest.fixture(scope="module")
def llcm_root(tmp_path_factory):
    out = str(tmp_path_factory.mktemp("llcm"))
    return synthetic_llcm.write_llcm(out, LLCM_IDS, 0, HEIGHT, WIDTH)


def sysu_folders(root):
    """{(camera, pid): sorted file names} read from the tree."""
    folders = {}
    for camera in range(1, 7):
        for name in os.listdir(os.path.join(root, f"cam{camera}")):
            folders[camera, int(name)] = sorted(
                os.listdir(os.path.join(root, f"cam{camera}", name))
            )
    return folders


def read_split(root, split):
    text = Path(root, "exp", f"{split}_id.txt").read_text()
    assert "\n" not in text.strip()
    return [int(token) for token in text.split(",")]


def test_sysu_tree_has_the_real_layout(sysu_root):
    assert sorted(os.listdir(sysu_root)) == ["cam1", "cam2", "cam3", "cam4", "cam5", "cam6", "exp"]
    folders = sysu_folders(sysu_root)
    for camera in range(1, 7):
        assert all(re.fullmatch(r"\d{4}", n) for n in os.listdir(Path(sysu_root, f"cam{camera}")))
    for names in folders.values():
        assert names == [f"{n:04d}.jpg" for n in range(1, len(names) + 1)]
    test_ids = set(read_split(sysu_root, "test"))
    for pid in range(1, SYSU_IDS + 1):
        cameras = {c for c, p in folders if p == pid}
        assert cameras & {1, 2, 4, 5} and cameras & {3, 6}, (pid, cameras)
        if pid in test_ids:
            assert cameras & {1, 2}, (pid, cameras)
    assert len(folders) < 6 * SYSU_IDS  # some ids miss some cameras
    counts = [len(names) for names in folders.values()]
    fewest, too_many = synthetic.SYSU_IMAGES
    assert fewest <= min(counts) and max(counts) < too_many
    assert max(counts) - min(counts) > (too_many - fewest) // 2  # folders differ in size


def test_sysu_split_files_partition_the_ids(sysu_root):
    splits = {s: read_split(sysu_root, s) for s in ("train", "val", "test")}
    assert sorted(sum(splits.values(), [])) == list(range(1, SYSU_IDS + 1))
    assert [len(splits[s]) for s in ("train", "val", "test")] == [6, 2, 2]
    assert all(ids == sorted(ids) for ids in splits.values())


def test_sysu_permutation_file_reads_like_the_kit(sysu_root):
    path = os.path.join(sysu_root, "exp", "rand_perm_cam.mat")
    content = scipy.io.loadmat(path)
    assert content["rand_perm_cam"].shape == (6, 1)
    folders = sysu_folders(sysu_root)
    for camera in range(1, 7):
        persons = content["rand_perm_cam"][camera - 1][0].squeeze()
        assert persons.shape == (SYSU_IDS,)
        for pid in range(1, SYSU_IDS + 1):
            perm = persons[pid - 1]
            if (camera, pid) not in folders:
                assert perm.shape == (0, 0)
                continue
            n = len(folders[camera, pid])
            assert perm.shape == (10, n) and perm.dtype == np.float64
            assert all(sorted(row) == list(range(1, n + 1)) for row in perm.astype(int))


def test_readers_accept_the_sysu_tree(sysu_root):
    train = sysu.train_samples(sysu_root)
    assert {s.pid for s in train} == set(
        read_split(sysu_root, "train") + read_split(sysu_root, "val")
    )
    assert {s.camid for s in sysu.query_samples(sysu_root)} <= {3, 6}
    perm = os.path.join(sysu_root, "exp", "rand_perm_cam.mat")
    for mode in ("all", "indoor"):
        official = sysu.gallery_samples(sysu_root, mode, shots=10, trial=9, permutation_file=perm)
        assert {s.pid for s in official} == set(read_split(sysu_root, "test"))


def test_sysu_images_ir_stored_as_3_and_1_channel_jpeg(sysu_root):
    for (camera, pid), names in sysu_folders(sysu_root).items():
        with Image.open(Path(sysu_root, f"cam{camera}", f"{pid:04d}", names[0])) as image:
            assert image.format == "JPEG" and image.size == (WIDTH, HEIGHT)
            assert image.mode == ("L" if camera == 6 else "RGB"), (camera, image.mode)
            pixels = np.asarray(image, np.float32)
        if camera == 3:  # gray content in three channels
            assert np.abs(pixels - pixels.mean(-1, keepdims=True)).mean() < 1.0
        elif camera != 6:  # real colour: channels differ
            assert np.abs(pixels - pixels.mean(-1, keepdims=True)).mean() > 3.0


def test_regdb_tree_has_the_real_layout(regdb_root):
    assert sorted(os.listdir(regdb_root)) == ["Thermal", "Visible", "idx"]
    counters = {}
    for folder, letter, mode in (("Visible", "v", "RGB"), ("Thermal", "t", "L")):
        assert sorted(os.listdir(Path(regdb_root, folder)), key=int) == [
            str(p) for p in range(1, REGDB_IDS + 1)
        ]
        for pid in range(1, REGDB_IDS + 1):
            names = sorted(os.listdir(Path(regdb_root, folder, str(pid))))
            assert len(names) == 10
            pattern = rf"(female|male)_(front|back)_{letter}_(\d{{5}})_{pid}\.bmp"
            matches = [re.fullmatch(pattern, n) for n in names]
            assert all(matches), names
            counters[folder, pid] = sorted(int(m.group(3)) for m in matches)
            with Image.open(Path(regdb_root, folder, str(pid), names[0])) as image:
                assert (image.format, image.mode, image.size) == ("BMP", mode, (WIDTH, HEIGHT))
    for pid in range(1, REGDB_IDS + 1):  # visible/thermal pairs share their counter
        assert counters["Visible", pid] == counters["Thermal", pid]
    every = sum((counters["Visible", p] for p in range(1, REGDB_IDS + 1)), [])
    assert sorted(every) == list(range(1, 10 * REGDB_IDS + 1))


def test_regdb_split_files_halve_the_ids_per_trial(regdb_root):
    halves = set()
    for trial in range(1, 11):
        pids = {}
        for split in ("train", "test"):
            for modality, folder in (("visible", "Visible"), ("thermal", "Thermal")):
                lines = Path(regdb_root, "idx", f"{split}_{modality}_{trial}.txt").read_text()
                entries = [line.split(" ") for line in lines.splitlines()]
                paths = [p for p, _ in entries]
                assert all(
                    Path(regdb_root, p).is_file() and p.startswith(f"{folder}/") for p in paths
                )
                pid_of = [int(p.split("/")[1]) for p in paths]
                order = sorted(set(pid_of))
                assert [int(label) for _, label in entries] == [order.index(p) for p in pid_of]
                assert all(pid_of.count(p) == 10 for p in order)
                pids.setdefault(split, order)
                assert pids[split] == order  # visible and thermal list the same ids
        assert len(pids["train"]) == len(pids["test"]) == REGDB_IDS // 2
        assert sorted(pids["train"] + pids["test"]) == list(range(1, REGDB_IDS + 1))
        halves.add(tuple(pids["train"]))
    assert len(halves) > 1  # trials differ


def test_readers_accept_the_regdb_tree(regdb_root):
    for trial in (1, 10):
        samples = regdb.split_samples(regdb_root, trial, "test", "thermal")
        assert len(samples) == 10 * REGDB_IDS // 2 and {s.camid for s in samples} == {2}


def test_llcm_tree_has_the_authors_layout(llcm_root):
    assert sorted(os.listdir(llcm_root)) == ["idx", "nir", "test_nir", "test_vis", "vis"]
    assert sorted(os.listdir(Path(llcm_root, "idx"))) == [
        "test_id.txt",
        "train_nir.txt",
        "train_vis.txt",
    ]
    assert sorted(os.listdir(Path(llcm_root, "test_vis"))) == [f"cam{c}" for c in range(1, 10)]
    assert sorted(os.listdir(Path(llcm_root, "test_nir"))) == sorted(
        f"cam{c}"
        for c in (1, 2, 4, 5, 6, 7, 8, 9)  # the real test set has no NIR camera 3
    )
    test_ids = [int(t) for t in Path(llcm_root, "idx", "test_id.txt").read_text().split(",")]
    assert test_ids == sorted(test_ids) and len(test_ids) == round(LLCM_IDS / 3)
    name = r"(\d{4})_c(\d{2})_s(\d{6})_f\d{4}_(vis|nir)\.jpg"
    for tag in ("vis", "nir"):
        for line in Path(llcm_root, "idx", f"train_{tag}.txt").read_text().splitlines():
            rel, label = line.split(" ")
            folder, pid, file = rel.split("/")
            match = re.fullmatch(name, file)
            assert folder == tag and match and match.group(1) == pid and match.group(4) == tag
            assert int(pid) not in test_ids and int(label) >= 0
        for camera in os.listdir(Path(llcm_root, f"test_{tag}")):
            for pid in os.listdir(Path(llcm_root, f"test_{tag}", camera)):
                assert int(pid) in test_ids
                for file in os.listdir(Path(llcm_root, f"test_{tag}", camera, pid)):
                    match = re.fullmatch(name, file)
                    assert match and match.group(1) == pid and f"cam{int(match.group(2))}" == camera


def test_readers_accept_the_llcm_tree(llcm_root):
    train = llcm.train_samples(llcm_root)
    labels = sorted({s.pid for s in train})
    assert labels == list(range(LLCM_IDS - round(LLCM_IDS / 3)))
    for modality in (RGB, IR):
        assert {s.pid for s in train if s.modality == modality} == set(labels)
        assert {s.pid for s in llcm.test_samples(llcm_root, modality)} == set(
            llcm.read_test_ids(llcm_root)
        )
    with Image.open(llcm.test_samples(llcm_root, IR)[0].path) as nir:
        assert (nir.format, nir.mode, nir.size) == ("JPEG", "RGB", (WIDTH, HEIGHT))
        pixels = np.asarray(nir, np.float32)
    assert np.abs(pixels - pixels.mean(-1, keepdims=True)).mean() < 1.0  # gray in 3 channels


def tree_bytes(root):
    return {
        os.path.relpath(os.path.join(d, n), root): Path(d, n).read_bytes()
        for d, _, names in os.walk(root)
        for n in names
    }


@pytest.mark.parametrize(
    "writer, ids",
    [(synthetic.write_sysu, 5), (synthetic.write_regdb, 4), (synthetic_llcm.write_llcm, 4)],
)
def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path, writer, ids):
    first, again, other = (
        writer(str(tmp_path / n), ids, s, 32, 16) for n, s in [("a", 3), ("b", 3), ("c", 4)]
    )
    assert tree_bytes(first) == tree_bytes(again)
    first_files, other_files = tree_bytes(first), tree_bytes(other)
    shared = set(first_files) & set(other_files)
    assert sum(first_files[f] != other_files[f] for f in shared) > 0.9 * len(shared)


POSE = pedestrians.Pose(
    0.9, 0.05, 0.0, 0.0, (0.15, 0.15), (0.02, 0.02), 0.0, 1.0, True, (0.0, 1.0, 0.0)
)
LUMA = np.array([0.299, 0.587, 0.114])
DEFAULT = styles.STYLES["default"]
# The default style without what hides a pattern or its infrared contrast.
UNHIDDEN = dataclasses.replace(DEFAULT, occlusion=0.0, clutter=(0, 0), ir_flip=0.0, ir_vanish=0.0)


def people(count, seed=5, schemes=pedestrians.NUM_SCHEMES, style=UNHIDDEN):
    wardrobe = pedestrians.draw_wardrobe(np.random.default_rng(seed), schemes)
    rngs = [np.random.default_rng([seed, i]) for i in range(count)]
    return [pedestrians.draw_person(rng, wardrobe, style) for rng in rngs]


def plain_top(person):
    patterns = person.patterns.copy()
    patterns[pedestrians.UPPER, 0] = styles.PLAIN
    return dataclasses.replace(person, patterns=patterns)


def torso_means(camera, persons, rng):
    """Mean luminance (RGB) or intensity (IR) of a patch in the middle of each person's torso."""
    rows = slice(
        int((POSE.top + 0.28 * POSE.scale) * 128), int((POSE.top + 0.4 * POSE.scale) * 128)
    )
    means = []
    for person in persons:
        layer, alpha = render.render_person(person, POSE, 128, 64)
        image = cameras.photograph(camera, layer, alpha, rng, UNHIDDEN)
        image = image.astype(np.float64)
        if image.ndim == 3:
            image = image @ LUMA
        means.append(image[rows, 30:34].mean())
    return np.array(means)


def test_ir_intensity_does_not_follow_visible_brightness_of_clothes():
    """Through the whole camera model: a garment's gray level says nothing about its IR.

    Tops are plain here: patterns are darker than their ground in both modalities (tested
    below), so how much of a patch a pattern covers would darken it in both. Many schemes
    spread the garments' tones, so the correlation measures the draw, not three values.
    """
    rng = np.random.default_rng(11)
    persons = [plain_top(person) for person in people(80, schemes=20)]
    means = {
        scene: torso_means(cameras.make_camera(rng, scene, 128, 64, UNHIDDEN), persons, rng)
        for scene in ("indoor", "outdoor", "nir_indoor", "nir_outdoor", "thermal")
    }
    corr = lambda a, b: np.corrcoef(means[a], means[b])[0, 1]  # noqa: E731
    # Positive controls: the same measure agrees across cameras of one modality (about 0.7:
    # exposure, uneven light and cloth texture change it from image to image) ...
    assert corr("indoor", "outdoor") > 0.55 and corr("nir_indoor", "nir_outdoor") > 0.55
    assert corr("nir_indoor", "thermal") > 0.55
    # ... but visible luminance says next to nothing about the infrared intensity.
    for ir in ("nir_indoor", "nir_outdoor", "thermal"):
        assert abs(corr("indoor", ir)) < 0.3, (ir, corr("indoor", ir))
    assert means["nir_indoor"].std() > 20 and means["indoor"].std() > 20  # both vary


def gradient_magnitude(image):
    rows, cols = np.gradient(image.astype(np.float64))
    return np.hypot(rows, cols)


def test_shapes_and_patterns_show_in_both_modalities():
    edge_corrs, gray_steps, ir_steps = [], [], []
    for person in people(20):
        layer, alpha = render.render_person(person, POSE, 128, 64)
        luminance, infrared = layer[..., :3] @ LUMA, layer[..., 3]
        inside = alpha > 0.99  # the person, without the silhouette's own edge
        edges = [gradient_magnitude(image)[inside] for image in (luminance, infrared)]
        edge_corrs.append(np.corrcoef(*edges)[0, 1])
        for part in (pedestrians.UPPER, pedestrians.LOWER):
            ground, pattern = person.tones[part]
            gray_steps.append((ground[:3] - pattern[:3]) @ LUMA)
            ir_steps.append(ground[3] - pattern[3])
    # Every edge (garment outlines, pattern stripes, prints) is there in both images ...
    assert min(edge_corrs) > 0.6, edge_corrs
    # ... and a pattern is clearly darker than its ground in both.
    assert min(gray_steps) > pedestrians.MIN_LUMA_STEP - 0.1, gray_steps
    assert min(ir_steps) >= pedestrians.MIN_IR_STEP - 1e-9, ir_steps


def test_tones_are_valid_and_skin_is_bright_in_infrared():
    for person in people(50):
        assert 0.0 <= person.tones.min() and person.tones.max() <= 1.0
        assert person.tones[pedestrians.SKIN, 0, 3] > 0.6


PEOPLE = 600


def garment_ir_change(pair, scheme_pair):
    """How a garment's infrared (ground, pattern) came from its scheme's: kept, flipped or
    vanished (pattern like ground); None if it came from elsewhere."""
    for name, candidate in (
        ("kept", scheme_pair),
        ("flipped", scheme_pair[::-1]),
        ("vanished", scheme_pair[[0, 0]]),
    ):
        if np.allclose(pair, candidate):
            return name
    return None


def test_clothes_tones_come_from_shared_independent_schemes():
    """Many people share each gray-level scheme and each infrared scheme, drawn independently:
    neither tells a person apart, and one says nothing about the other. Some garments' patterns
    flip or lose their infrared contrast, at the style's rates."""
    wardrobe = pedestrians.draw_wardrobe(np.random.default_rng(3))
    parts = [part for part, _ in pedestrians.SCHEME_TONES]
    tones = [tone for _, tone in pedestrians.SCHEME_TONES]
    pairs, changes = [], []
    for pid in range(PEOPLE):
        person = pedestrians.draw_person(np.random.default_rng([3, pid]), wardrobe, DEFAULT)
        grays = person.tones[parts, tones, :3] @ LUMA
        irs = person.tones[parts, tones, 3]
        luma_scheme = np.abs(wardrobe.luma - grays).max(axis=1).argmin()
        # Shoes, bag and hat keep their scheme's reflectance; they name the scheme.
        ir_scheme = np.abs(wardrobe.ir[:, 4:] - irs[4:]).max(axis=1).argmin()
        assert np.abs(wardrobe.luma[luma_scheme] - grays).max() < 0.1  # jittered a little
        np.testing.assert_allclose(wardrobe.ir[ir_scheme, 4:], irs[4:])
        for garment in (slice(0, 2), slice(2, 4)):
            changes.append(garment_ir_change(irs[garment], wardrobe.ir[ir_scheme, garment]))
            assert grays[garment][0] > grays[garment][1]  # the pattern is darker in visible
        pairs.append((luma_scheme, ir_scheme))
    schemes = len(wardrobe.luma)
    counts = np.zeros((schemes, schemes))
    np.add.at(counts, tuple(np.array(pairs).T), 1)
    assert counts.sum(axis=1).min() > PEOPLE / schemes / 2  # each scheme worn by many
    assert counts.sum(axis=0).min() > PEOPLE / schemes / 2
    assert scipy.stats.chi2_contingency(counts).pvalue > 1e-3  # independent
    assert None not in changes
    share = {name: changes.count(name) / len(changes) for name in ("flipped", "vanished")}
    assert abs(share["flipped"] - DEFAULT.ir_flip) < 0.05, share  # binomial sd 0.013
    assert abs(share["vanished"] - DEFAULT.ir_vanish) < 0.04, share


@pytest.mark.parametrize("target", [0.05, 0.2, 0.5, 0.8, 0.95])
def test_colour_of_luma_has_the_asked_gray_level(target):
    rng = np.random.default_rng(0)
    colours = np.array([pedestrians.colour_of_luma(rng, target) for _ in range(50)])
    gray = 0.299 * colours[:, 0] + 0.587 * colours[:, 1] + 0.114 * colours[:, 2]
    np.testing.assert_allclose(gray, target, atol=1e-9)
    assert colours.min() >= 0.0 and colours.max() <= 1.0 + 1e-9
    assert np.ptp(colours, axis=1).max() > 0.05  # not only grays


def test_cli_help_and_bad_format_in_a_real_process():
    done = run("make_synthetic", "--help")
    assert done.returncode == 0 and "--format" in done.stdout and "--grid" in done.stdout
    for name, style in styles.STYLES.items():  # every style is listed with what it changes
        assert f"{name}: {style.description[:30]}" in " ".join(done.stdout.split())
    done = run("make_synthetic", "x", "--format", "market")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1 and "invalid choice: 'market'" in done.stderr


def test_cli_writes_data_set_and_grid(tmp_path):
    out, grid = tmp_path / "regdb", tmp_path / "grid.png"
    argv = [str(out), "--format", "regdb", "--ids", "4", "--height", "32", "--width", "16"]
    assert run("make_synthetic", *argv, "--grid", str(grid)).returncode == 0
    assert len(os.listdir(out / "idx")) == 40
    with Image.open(grid) as image:  # 4 ids x (4 visible + 4 thermal), plus label margins
        assert image.size == (40 + 8 * 16, 18 + 4 * 32)
        cells = np.asarray(image.convert("RGB"))
    for column, folder in ((0, "Visible"), (4, "Thermal")):  # id 1's first image of each
        first = sorted(os.listdir(out / folder / "1"))[0]
        with Image.open(out / folder / "1" / first) as expected:
            cell = cells[18 : 18 + 32, 40 + 16 * column : 40 + 16 * (column + 1)]
            np.testing.assert_array_equal(cell, np.asarray(expected.convert("RGB")))
    refused = run("make_synthetic", *argv)
    assert refused.returncode == 2  # OUT is no longer empty
    err = refused.stderr
    assert err.count("\n") == 1 and str(out) in err and "not an empty directory" in err


def test_cli_writes_an_llcm_set_and_its_grid(tmp_path):
    out, grid = tmp_path / "llcm", tmp_path / "grid.png"
    argv = [str(out), "--format", "llcm", "--ids", "6", "--height", "32", "--width", "16"]
    assert run("make_synthetic", *argv, "--grid", str(grid)).returncode == 0
    assert llcm.train_samples(str(out)) and llcm.test_samples(str(out), IR)
    with Image.open(grid) as image:  # the 4 training ids x (4 vis + 4 nir)
        assert image.size == (40 + 8 * 16, 18 + 4 * 32)


def test_cli_and_api_reject_bad_numbers(tmp_path):
    done = run("make_synthetic", str(tmp_path / "a"), "--format", "sysu", "--ids", "4")
    assert done.returncode == 2
    err = done.stderr
    assert err.count("\n") == 1 and "num_ids must be in 5..9999, got 4" in err
    with pytest.raises(ValueError, match="num_ids must be in 4..9999, got 3"):
        synthetic.write_regdb(str(tmp_path / "b"), num_ids=3)
    with pytest.raises(ValueError, match="height must be in 16..4096, got 8"):
        synthetic.write_sysu(str(tmp_path / "c"), num_ids=5, height=8)
    with pytest.raises(ValueError, match="seed must be an integer, got 1.5"):
        synthetic.write_sysu(str(tmp_path / "d"), num_ids=5, seed=1.5)


SYSU_TREE = ["cam1", "cam2", "cam3", "cam4", "cam5", "cam6", "exp"]
TINY = ["--format", "sysu", "--ids", "5", "--height", "32", "--width", "16"]


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_a_failed_generation_leaves_nothing(tmp_path, monkeypatch, error):
    real, calls = synthetic.photograph, []

    def fail_midway(*args):
        calls.append(args)
        if len(calls) == 30:
            raise error("stopped")
        return real(*args)

    monkeypatch.setattr(synthetic, "photograph", fail_midway)
    with pytest.raises(error, match="stopped"):
        synthetic.write_sysu(str(tmp_path / "sysu"), 5, 0, 32, 16)
    assert len(calls) == 30 and os.listdir(tmp_path) == []


def test_a_killed_generation_leaves_no_set_and_a_rerun_writes_it(tmp_path):
    """SIGKILL halfway: OUT does not appear (only a hidden partial sibling may stay); a rerun
    writes the set; one more run refuses the complete set in one line."""
    out = tmp_path / "sysu"
    args = [str(out), "--format", "sysu", "--ids", "400", "--height", "32", "--width", "16"]
    process = start("make_synthetic", *args)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".sysu.incomplete-*/cam*/0002")):
        assert time.monotonic() < deadline and process.poll() is None
        time.sleep(0.02)
    process.kill()
    finish(process)
    assert not out.exists()
    assert [p.name.startswith(".sysu.incomplete-") for p in tmp_path.iterdir()] == [True]
    assert run("make_synthetic", str(out), *TINY).returncode == 0
    assert sorted(os.listdir(out)) == SYSU_TREE
    done = run("make_synthetic", str(out), *TINY)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert f"output directory {out} exists and is not an empty directory" in done.stderr


def test_an_empty_output_directory_is_filled_with_the_usual_permissions(tmp_path):
    out = tmp_path / "regdb"
    out.mkdir()
    root = synthetic.write_regdb(str(out), 4, 0, 32, 16)
    assert root == str(out) and sorted(os.listdir(out)) == ["Thermal", "Visible", "idx"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's private 0o700
    assert os.listdir(tmp_path) == ["regdb"]
