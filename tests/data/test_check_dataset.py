"""One definition of a readable image (the pipeline's decoder) and tools/check_dataset.py."""

import os
import shutil

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tools_harness import finish, run, start

from tfreid.data import synthetic_llcm
from tfreid.data.check import find_bad_images, layout_images, split_problems
from tfreid.data.pipeline import decode_image


def write_image(path, mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (16, 8, 3) if mode in ("RGB", "CMYK") else (16, 8)
    pixels = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    Image.fromarray(pixels, "RGB" if mode == "CMYK" else mode).convert(mode).save(path, format=fmt)


def make_sysu(root):
    """Ids 1, 2 (train), 3 (val), 4 (test), one image per camera."""
    for cam in range(1, 7):
        for pid in (1, 2, 3, 4):
            write_image(root / f"cam{cam}" / f"{pid:04d}" / "0001.jpg", "L" if cam == 6 else "RGB")
    (root / "exp").mkdir()
    for split, ids in (("train", "1,2"), ("val", "3"), ("test", "4")):
        (root / "exp" / f"{split}_id.txt").write_text(ids)
    return root


def damage(path, how):
    if how == "truncated":  # half of a 64x32 JPEG: the scan data ends early
        pixels = np.random.default_rng(0).integers(0, 255, (64, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, format="JPEG")
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif how in ("TIFF", "GIF", "WEBP"):
        write_image(path, fmt=how)
    elif how == "garbage":
        path.write_bytes(b"not an image at all")
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "dangling":
        path.symlink_to(path.parent / "gone.jpg")
    elif how == "loop":
        path.symlink_to(path)
    elif how == "directory":
        path.mkdir()


READS = {"png under .jpg": "PNG", "CMYK JPEG": "CMYK", "BMP": "BMP", "gray JPEG": "L"}
FAILS = {
    "truncated": "cannot be decoded",
    "TIFF": "is a TIFF file",
    "GIF": "is a GIF file",
    "WEBP": "is a WEBP file",
    "garbage": "is not an image file",
    "empty": "is empty",
    "dangling": "dangling symlink",
    "loop": "symlink loop",
    "directory": "is a directory",
}


def test_bad_images_are_exactly_those_the_pipeline_cannot_decode(tmp_path):
    paths = {}
    for name, kind in READS.items():
        paths[name] = tmp_path / f"{name.replace(' ', '_')}.jpg"
        write_image(paths[name], "CMYK" if kind == "CMYK" else "L" if kind == "L" else "RGB",
                    fmt="JPEG" if kind in ("CMYK", "L") else kind)  # fmt: skip
    for how in FAILS:
        paths[how] = tmp_path / f"{how}.jpg"
        damage(paths[how], how)
    paths["missing"] = tmp_path / "missing.jpg"
    bad = dict(find_bad_images([str(p) for p in paths.values()]))
    assert set(bad) == {str(paths[name]) for name in [*FAILS, "missing"]}
    for how, reason in {**FAILS, "missing": "does not exist"}.items():
        assert reason in bad[str(paths[how])], (how, bad[str(paths[how])])
    for name in READS:  # the pipeline itself agrees
        assert decode_image(tf.constant(str(paths[name])), tf.constant(0)).shape[-1] == 3
    for how in FAILS:
        with pytest.raises(tf.errors.OpError):
            decode_image(tf.constant(str(paths[how])), tf.constant(0))


def test_layout_images_counts_per_camera(tmp_path):
    groups = layout_images(str(make_sysu(tmp_path)), "sysu")
    assert list(groups) == [f"cam{c}" for c in range(1, 7)]
    assert all(len(paths) == 4 for paths in groups.values())


@pytest.mark.parametrize(
    "test_ids,problem",
    [
        ("4,4", "lists id 4 more than once"),
        ("4,9", "test id 9 has no folder"),
        ("4,1", "test id 1 is also a training (train/val) id"),
    ],
)
def test_split_problems_are_those_of_the_readers(tmp_path, test_ids, problem):
    root = make_sysu(tmp_path)
    assert split_problems(str(root), "sysu") == []
    (root / "exp" / "test_id.txt").write_text(test_ids)
    (found,) = split_problems(str(root), "sysu")
    assert problem in found


def test_check_dataset_tool_exit_codes(tmp_path):
    root = make_sysu(tmp_path / "sysu")
    result = run("check_dataset", str(root), "--format", "sysu")
    assert result.returncode == 0, result.stderr
    assert "cam6: 4 images" in result.stdout and "24 images, 0 bad; 0 split" in result.stdout
    bad = root / "cam3" / "0002" / "0001.jpg"
    write_image(bad, fmt="GIF")
    result = run("check_dataset", str(root), "--format", "sysu")
    assert result.returncode == 1
    assert f"BAD {bad}: is a GIF file" in result.stdout
    assert result.stderr.splitlines()[-1].startswith(f"error: 1 of 24 images cannot be read: {bad}")
    result = run("check_dataset", str(tmp_path / "missing"), "--format", "regdb")
    assert result.returncode == 2
    assert (
        result.stderr.splitlines()[-1] == f"error: regdb root {tmp_path / 'missing'} does not exist"
    )


def test_check_dataset_reads_the_llcm_layout(tmp_path):
    root = synthetic_llcm.write_llcm(str(tmp_path / "llcm"), 6, 0, 32, 16)
    groups = layout_images(root, "llcm")
    assert list(groups)[:9] == [f"test_vis/cam{c}" for c in range(1, 10)]
    assert list(groups)[-2:] == ["idx/train_vis.txt", "idx/train_nir.txt"]
    assert sorted(p for ps in groups.values() for p in ps) == sorted(
        os.path.join(d, n) for d, _, names in os.walk(root) for n in names if n.endswith(".jpg")
    )
    broken = str(tmp_path / "broken")
    shutil.copytree(root, broken)
    nir_image = next(p for g, ps in layout_images(broken, "llcm").items() if "nir" in g for p in ps)
    damage(type(tmp_path)(nir_image), "empty")
    nir_list = os.path.join(broken, "idx", "train_nir.txt")
    with open(nir_list, "a") as f:
        f.write("nir/0001/lost.jpg 0\n")
    # Started together, so that their start-ups overlap.
    runs = [start("check_dataset", tree, "--format", "llcm") for tree in (root, broken)]
    good, bad = [finish(process) for process in runs]
    assert good.returncode == 0, good.stderr
    assert bad.returncode == 1
    assert f"BAD {nir_image}: is empty (0 bytes)" in bad.stdout
    assert f"BAD SPLIT {nir_list} line" in bad.stdout and "lost.jpg does not exist" in bad.stdout
