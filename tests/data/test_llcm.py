"""LLCM reader on tiny hand-made trees: fields, orders, the authors' draws, one-line errors."""

import os

import pytest
from evaluation import reference_llcm

from tfreid.data import llcm
from tfreid.data.samples import IR, RGB, DatasetError

TRAIN = {RGB: {1: 2, 4: 3}, IR: {1: 2, 4: 1}}  # modality: {person folder id: images}
TEST_IDS = (2, 6)
TEST = [("test_vis", 1, 2), ("test_vis", 3, 2), ("test_vis", 9, 6), ("test_nir", 1, 2)]
TEST += [("test_nir", 4, 6), ("test_nir", 2, 6), ("test_vis", 2, 7)]  # id 7 is not a test id


def make_tree(root):
    """Empty image files (the reader never opens them) and the index files."""
    lines = {RGB: [], IR: []}
    for modality, people in TRAIN.items():
        tag = "vis" if modality == RGB else "nir"
        for label, pid in enumerate(sorted(people)):
            (root / tag / f"{pid:04d}").mkdir(parents=True)
            for n in range(people[pid]):
                name = f"{pid:04d}_c0{n + 1}_s120000_f{n:04d}_{tag}.jpg"
                (root / tag / f"{pid:04d}" / name).touch()
                lines[modality].append(f"{tag}/{pid:04d}/{name} {label}\n")
    for folder, camera, pid in TEST:
        person = root / folder / f"cam{camera}" / f"{pid:04d}"
        person.mkdir(parents=True)
        for n in (3, 1, 2):  # created out of order: the reader sorts
            (person / f"{pid:04d}_c0{camera}_s{n:06d}_f0001.jpg").touch()
    (root / "idx").mkdir()
    for modality, name in llcm.TRAIN_LISTS.items():
        (root / "idx" / name).write_text("".join(lines[modality]))
    (root / "idx" / "test_id.txt").write_text(",".join(map(str, TEST_IDS)))
    return str(root)


def test_training_samples_carry_the_labels(tmp_path):
    root = make_tree(tmp_path)
    got = llcm.train_samples(root)
    assert [(s.pid, s.camid, s.modality) for s in got] == (
        [(0, 0, RGB)] * 2 + [(1, 0, RGB)] * 3 + [(0, 0, IR)] * 2 + [(1, 0, IR)]
    )
    assert got[0].path == os.path.join(root, "vis/0001/0001_c01_s120000_f0000_vis.jpg")


def test_test_images_and_draws_follow_the_authors_code(tmp_path):
    root = make_tree(tmp_path)
    for modality, tag in ((RGB, "vis"), (IR, "nir")):
        got = llcm.test_samples(root, modality)
        expected = reference_llcm.queries(root, tag)
        assert [(os.path.relpath(s.path, root), s.pid, s.camid) for s in got] == expected
        assert {s.modality for s in got} == {modality}
        for trial in (0, 7):
            draw = llcm.gallery_samples(root, modality, trial)
            expected = reference_llcm.gallery(root, tag, trial)
            assert [(os.path.relpath(s.path, root), s.pid, s.camid) for s in draw] == expected
    assert [s.camid for s in llcm.test_samples(root, RGB)] == [1] * 3 + [3] * 3 + [9] * 3
    assert {s.pid for s in llcm.test_samples(root, RGB)} == set(TEST_IDS)  # id 7 left out


def rewrite(path, old, new):
    text = open(path).read()
    assert old in text
    open(path, "w").write(text.replace(old, new, 1))


VIS_LIST = os.path.join("idx", "train_vis.txt")
NIR_LIST = os.path.join("idx", "train_nir.txt")


@pytest.mark.parametrize(
    "path, old, new, message",
    [
        (VIS_LIST, "f0001_vis.jpg 0", "f0001_vis.jpg", r"train_vis.txt line 2: expected 'rel"),
        (VIS_LIST, "f0001_vis.jpg 0", "f0001_vis.jpg x", r"line 2: label 'x' is not an integer"),
        (VIS_LIST, "f0001_vis.jpg 0", "f0009_vis.jpg 0", r"line 2: image .*f0009_vis.jpg does no"),
        (VIS_LIST, "vis/0001/0001_c02", "../0001_c02", r"line 2: path .* points outside the root"),
        (NIR_LIST, "f0000_nir.jpg 1", "f0000_nir.jpg 2", r"train_nir.txt line 3: label 2 is out"),
        (NIR_LIST, "f0000_nir.jpg 1", "f0000_nir.jpg -1", r"line 3: label -1 is outside 0..1"),
        (
            VIS_LIST,
            "f0001_vis.jpg 0",
            "f0001_vis.jpg 1",
            r"line 2: person folder 0001 has label 1, but label 0 at .*line 1",
        ),
        ("idx/test_id.txt", "2,6", "2,4", r"train_vis.txt line 3: .* is of test id 4"),
        ("idx/test_id.txt", "2,6", "2,6,7", r"test_id.txt line 1: test id 7 has no images in te"),
        ("idx/test_id.txt", "2,6", "2,x", r"test_id.txt: expected one line of comma-separated"),
    ],
)
def test_bad_input_is_one_line_naming_file_and_line(tmp_path, path, old, new, message):
    root = make_tree(tmp_path)
    rewrite(os.path.join(root, path), old, new)
    with pytest.raises(DatasetError, match=message) as raised:
        llcm.train_samples(root)
        llcm.test_samples(root, IR)
    assert "\n" not in str(raised.value)


def test_a_label_must_have_both_modalities(tmp_path):
    root = make_tree(tmp_path)
    path = os.path.join(root, NIR_LIST)
    lines = open(path).read().splitlines(keepends=True)
    open(path, "w").write("".join(line for line in lines if not line.endswith(" 1\n")))
    with pytest.raises(DatasetError, match=r"train_vis.txt line 3: label 1 has no image in .*nir"):
        llcm.train_samples(root)


def test_missing_files_and_folders(tmp_path):
    with pytest.raises(DatasetError, match="LLCM root .*nowhere does not exist"):
        llcm.train_samples(str(tmp_path / "nowhere"))
    root = make_tree(tmp_path / "llcm")
    os.remove(os.path.join(root, NIR_LIST))
    with pytest.raises(DatasetError, match=r"missing LLCM training list .*train_nir.txt"):
        llcm.train_samples(root)
    os.remove(os.path.join(root, "idx", "test_id.txt"))
    with pytest.raises(DatasetError, match=r"missing LLCM test id file .*test_id.txt"):
        llcm.test_samples(root, RGB)
    empty = tmp_path / "empty"
    make_tree(empty)
    for name in os.listdir(empty / "test_nir" / "cam1" / "0002"):
        os.remove(empty / "test_nir" / "cam1" / "0002" / name)
    with pytest.raises(DatasetError, match=r"LLCM folder .*test_nir/cam1/0002 holds no images"):
        llcm.gallery_samples(str(empty), IR, 0)
    with pytest.raises(ValueError, match="trial must be in 0..9"):
        llcm.gallery_samples(root, IR, 10)


def test_a_label_is_the_same_person_in_both_lists(tmp_path):
    root = make_tree(tmp_path)
    path = os.path.join(root, NIR_LIST)
    swapped = (
        open(path).read().replace(" 0\n", " x\n").replace(" 1\n", " 0\n").replace(" x\n", " 1\n")
    )
    open(path, "w").write(swapped)  # NIR labels 0 and 1 exchanged: each file alone is fine
    with pytest.raises(
        DatasetError, match=r"train_nir.txt line 1: label 1 is person folder 0001, "
    ):
        llcm.train_samples(root)
