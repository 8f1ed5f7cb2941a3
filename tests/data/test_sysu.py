"""SYSU-MM01 reader on tiny hand-made trees (files are empty: listing never opens them)."""

import os
import random

import numpy as np
import pytest
import scipy.io

from tfreid.data import sysu
from tfreid.data.samples import IR, RGB, DatasetError

# (camera, id) -> number of images; id 3 has no cam2 / cam5 folder, id 4 is IR-only in cam6.
LAYOUT = {
    (1, 1): 3, (2, 1): 2, (3, 1): 2, (4, 1): 1, (5, 1): 2, (6, 1): 1,
    (1, 2): 4, (2, 2): 3, (3, 2): 1, (4, 2): 2, (5, 2): 12, (6, 2): 2,
    (1, 3): 2, (3, 3): 3, (4, 3): 11, (6, 3): 1,
    (1, 4): 1, (2, 4): 2, (6, 4): 2,
}  # fmt: skip


def make_tree(root, layout=LAYOUT, train="1,2", val="", test="3,4"):
    for (cam, pid), count in layout.items():
        folder = root / f"cam{cam}" / f"{pid:04d}"
        folder.mkdir(parents=True)
        for n in range(count, 0, -1):  # created out of order: readers must sort
            (folder / f"{n:04d}.jpg").touch()
    (root / "exp").mkdir()
    (root / "exp" / "train_id.txt").write_text(train + "\n")
    (root / "exp" / "val_id.txt").write_text(val or "2")
    (root / "exp" / "test_id.txt").write_text(test)
    return str(root)


def names(samples):
    return [os.path.relpath(s.path) for s in samples]


def test_train_samples_order_and_fields(tmp_path):
    root = make_tree(tmp_path)
    samples = sysu.train_samples(root)
    expected = [
        (pid, cam, n)
        for pid in (1, 2)
        for cam in range(1, 7)
        if (cam, pid) in LAYOUT
        for n in range(1, LAYOUT[(cam, pid)] + 1)
    ]
    assert [(s.pid, s.camid, int(os.path.basename(s.path)[:4])) for s in samples] == expected
    assert all(s.modality == (IR if s.camid in (3, 6) else RGB) for s in samples)
    assert samples[0].path == os.path.join(root, "cam1", "0001", "0001.jpg")


def test_train_split_holds_the_val_ids_out(tmp_path):
    root = make_tree(tmp_path, train="1", val="2")
    both, train = sysu.train_samples(root), sysu.train_samples(root, "train")
    assert {s.pid for s in both} == {1, 2} and {s.pid for s in train} == {1}
    assert train == [s for s in both if s.pid == 1]
    with pytest.raises(ValueError, match=r"split must be one of \['train', 'train_val'\]"):
        sysu.train_samples(root, "val")


def test_query_samples_are_ir_images_of_test_ids(tmp_path):
    root = make_tree(tmp_path)
    got = [(s.pid, s.camid, os.path.basename(s.path)) for s in sysu.query_samples(root)]
    assert got == [
        (3, 3, "0001.jpg"), (3, 3, "0002.jpg"), (3, 3, "0003.jpg"), (3, 6, "0001.jpg"),
        (4, 6, "0001.jpg"), (4, 6, "0002.jpg"),
    ]  # fmt: skip


def reference_seeded_gallery(root, mode, trial):
    """The Python port's rule, written as it is: global random, full sorted paths."""
    random.seed(trial)
    cameras = ["cam1", "cam2", "cam4", "cam5"] if mode == "all" else ["cam1", "cam2"]
    ids = ["%04d" % x for x in (3, 4)]  # noqa: UP031 (as the port writes it)
    files = []
    for pid in sorted(ids):
        for cam in cameras:
            img_dir = os.path.join(root, cam, pid)
            if os.path.isdir(img_dir):
                new_files = sorted([img_dir + "/" + i for i in os.listdir(img_dir)])
                files.append(random.choice(new_files))
    return files


@pytest.mark.parametrize("mode", ["all", "indoor"])
@pytest.mark.parametrize("trial", range(10))
def test_seeded_single_shot_reproduces_the_python_port(tmp_path, mode, trial):
    root = make_tree(tmp_path)
    got = sysu.gallery_samples(root, mode=mode, shots=1, trial=trial)
    expected = reference_seeded_gallery(root, mode, trial)
    assert [s.path.replace(os.sep, "/") for s in got] == expected


def test_seeded_multi_shot_draws_from_the_same_stream(tmp_path):
    root = make_tree(tmp_path)
    got = sysu.gallery_samples(root, mode="all", shots=10, trial=4)
    rng = random.Random(4)
    expected = []
    for pid in (3, 4):
        for cam in (1, 2, 4, 5):
            count = LAYOUT.get((cam, pid))
            if count:
                files = [f"{n:04d}.jpg" for n in range(1, count + 1)]
                expected += [(pid, cam, f) for f in rng.sample(files, min(10, count))]
    assert [(s.pid, s.camid, os.path.basename(s.path)) for s in got] == expected
    assert sum(1 for s in got if (s.pid, s.camid) == (3, 4)) == 10  # 11 images: 10 drawn
    assert all(s.modality == RGB for s in got)


def test_seeded_trials_differ(tmp_path):
    root = make_tree(tmp_path)
    draws = {tuple(names(sysu.gallery_samples(root, trial=t))) for t in range(10)}
    assert len(draws) > 1


def write_permutations(path, layout, max_pid, rows=10):
    """A rand_perm_cam.mat as the kit has it: 6 x 1 cell of (ids x 1) cells of 10 x n."""
    rng = np.random.default_rng(0)
    cameras = np.empty((6, 1), dtype=object)
    for cam in range(1, 7):
        persons = np.empty((max_pid, 1), dtype=object)
        for pid in range(1, max_pid + 1):
            n = layout.get((cam, pid), 0)
            persons[pid - 1, 0] = (
                np.stack([rng.permutation(n) + 1 for _ in range(rows)]).astype(float)
                if n
                else np.zeros((0, 0))
            )
        cameras[cam - 1, 0] = persons
    scipy.io.savemat(path, {"rand_perm_cam": cameras})
    return scipy.io.loadmat(path)["rand_perm_cam"]


@pytest.mark.parametrize("shots", [1, 10])
@pytest.mark.parametrize("trial", [0, 7])
def test_official_selection_reads_row_t_of_the_permutation(tmp_path, shots, trial):
    root = make_tree(tmp_path / "sysu")
    mat_path = str(tmp_path / "rand_perm_cam.mat")
    cells = write_permutations(mat_path, LAYOUT, max_pid=4)
    got = sysu.gallery_samples(root, "all", shots, trial, permutation_file=mat_path)
    expected = []
    for pid in (3, 4):
        for cam in (1, 2, 4, 5):
            if (cam, pid) in LAYOUT:
                perm = cells[cam - 1][0].squeeze()[pid - 1]
                expected += [(pid, cam, f"{int(i):04d}.jpg") for i in perm[trial, :shots]]
    assert [(s.pid, s.camid, os.path.basename(s.path)) for s in got] == expected


def test_official_selection_hand_worked(tmp_path):
    layout = {(1, 1): 3, (2, 1): 2, (3, 1): 1}
    root = make_tree(tmp_path / "sysu", layout, train="2", val="2", test="1")
    cameras = np.empty((6, 1), dtype=object)
    for cam in range(6):
        cameras[cam, 0] = np.empty((1, 1), dtype=object)
        cameras[cam, 0][0, 0] = np.zeros((0, 0))
    cameras[0, 0][0, 0] = np.array([[3, 1, 2]] + [[1, 2, 3]] * 9, dtype=float)
    cameras[1, 0][0, 0] = np.array([[2, 1]] * 10, dtype=float)
    mat_path = str(tmp_path / "perm.mat")
    scipy.io.savemat(mat_path, {"rand_perm_cam": cameras})
    got = sysu.gallery_samples(root, "indoor", 1, 0, permutation_file=mat_path)
    assert [(s.camid, os.path.basename(s.path)) for s in got] == [(1, "0003.jpg"), (2, "0002.jpg")]
    got = sysu.gallery_samples(root, "indoor", 10, 1, permutation_file=mat_path)
    assert [os.path.basename(s.path) for s in got] == ["0001.jpg", "0002.jpg", "0003.jpg"] + [
        "0002.jpg",
        "0001.jpg",
    ]


def test_official_permutation_shape_mismatch_is_an_error(tmp_path):
    root = make_tree(tmp_path / "sysu")
    wrong = dict(LAYOUT)
    wrong[(1, 3)] = 5  # the folder has 2 images
    mat_path = str(tmp_path / "perm.mat")
    write_permutations(mat_path, wrong, max_pid=4)
    with pytest.raises(DatasetError, match=r"camera 1 id 3: expected a 10 x 2 permutation"):
        sysu.gallery_samples(root, permutation_file=mat_path)


def loop_folder(root):
    """A person folder that is a symlink to itself (it used to be skipped unnoticed)."""
    folder = root / "cam2" / "0002"
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.symlink_to(folder)


def dangle_folder(root):
    loop_folder(root)
    (root / "cam2" / "0002").unlink()
    (root / "cam2" / "0002").symlink_to(root / "gone")


@pytest.mark.parametrize(
    "damage, message",
    [
        (lambda r: None, "does not exist"),
        (lambda r: (r / "exp" / "val_id.txt").unlink(), "missing SYSU-MM01 split file"),
        (lambda r: (r / "exp" / "train_id.txt").write_text("1;2"), "comma-separated integer"),
        (lambda r: (r / "exp" / "val_id.txt").write_text(""), "lists no ids"),
        (lambda r: (r / "exp" / "train_id.txt").write_text("1,9"), "id 9 has no folder"),
        (lambda r: [p.unlink() for p in (r / "cam1" / "0001").iterdir()], "holds no images"),
        (lambda r: (r / "exp" / "train_id.txt").write_text("1,-2"), r"integer ids .*got '-2'"),
        (lambda r: (r / "exp" / "train_id.txt").write_text("1,+2"), r"integer ids .*got '\+2'"),
        (loop_folder, r"SYSU-MM01 folder .*cam2/0002 is a symlink loop"),
        (dangle_folder, r"SYSU-MM01 folder .*cam2/0002 is a dangling symlink to"),
    ],
)
def test_bad_trees_raise_clear_errors(tmp_path, damage, message):
    root = tmp_path / "sysu"
    if message != "does not exist":
        make_tree(root)
    damage(root)
    with pytest.raises(DatasetError, match=message):
        sysu.train_samples(str(root))


def test_missing_permutation_file_and_bad_arguments(tmp_path):
    root = make_tree(tmp_path / "sysu")
    (tmp_path / "sysu" / "exp" / "test_id.txt").rename(tmp_path / "sysu" / "exp" / "t.txt")
    with pytest.raises(DatasetError, match="missing SYSU-MM01 split file .*test_id.txt"):
        sysu.query_samples(root)
    (tmp_path / "sysu" / "exp" / "t.txt").rename(tmp_path / "sysu" / "exp" / "test_id.txt")
    with pytest.raises(DatasetError, match="permutation file .*nope.mat does not exist"):
        sysu.gallery_samples(root, permutation_file=str(tmp_path / "nope.mat"))
    (tmp_path / "bad.mat").write_text("not matlab")
    with pytest.raises(DatasetError, match="bad.mat"):
        sysu.gallery_samples(root, permutation_file=str(tmp_path / "bad.mat"))
    with pytest.raises(ValueError, match="mode must be one of"):
        sysu.gallery_samples(root, mode="outdoor")
    with pytest.raises(ValueError, match="trial must be in 0..9"):
        sysu.gallery_samples(root, trial=10)


def test_a_long_split_file_is_checked_for_repeated_ids_in_linear_time(tmp_path):
    """100,000 ids with one repeated at the end: named (the check counts, it does not compare
    every pair, which took 100 s)."""
    root = make_tree(tmp_path)
    ids = list(range(5, 100_005)) + [99_999]
    (tmp_path / "exp" / "val_id.txt").write_text(",".join(map(str, ids)))
    with pytest.raises(DatasetError, match="val_id.txt lists id 99999 more than once"):
        sysu.read_ids(root, "val")
