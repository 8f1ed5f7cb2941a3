"""One definition of a readable image (the pipeline's decoder) and tools/check_dataset.py."""

import os
import shutil
import stat
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from tools_harness import finish, run, start

from tfreid.data import synthetic_llcm
from tfreid.data.check import describe, find_bad_images, layout_images, split_problems
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


def test_files_that_would_block_or_exhaust_the_decoder_are_named_without_decoding(tmp_path):
    """A FIFO (reading blocks), a device (reading never ends), a name TensorFlow cannot take
    and an image above the pixel limit are found from metadata and headers alone."""
    fine = tmp_path / "fine.jpg"
    write_image(fine)  # 16 x 8 = 128 pixels
    big = tmp_path / "big.png"
    Image.new("L", (40, 30)).save(big)  # 1,200 pixels
    fifo = tmp_path / "fifo.jpg"
    os.mkfifo(fifo)
    odd = os.fsdecode(os.fsencode(str(tmp_path)) + b"/caf\xe9.jpg")
    write_image(Path(odd))
    paths = [str(fine), str(big), str(fifo), odd]
    expected = {
        str(big): "is 40x30 = 1,200 pixels, more than data.max_image_pixels = 1,000",
        str(fifo): "is a FIFO (named pipe), not a regular file",
        odd: "has a name that is not UTF-8 (shown escaped)",
    }
    try:
        os.mknod(tmp_path / "zero.jpg", stat.S_IFCHR | 0o644, os.makedev(1, 5))  # as /dev/zero
        paths.append(str(tmp_path / "zero.jpg"))
        expected[paths[-1]] = "is a character device, not a regular file"
    except PermissionError:
        pass
    bad = find_bad_images(paths, max_pixels=1000)
    assert [path for path, _ in bad] == paths[1:]
    for path, reason in bad:
        assert expected[path] in reason, (path, reason)
    assert find_bad_images([str(big)]) == []  # the default limit: 89,478,485 pixels, as PIL's
    assert "caf\\xe9.jpg: has a name" in describe(bad)  # printable: the byte shown escaped


def test_a_decompression_bomb_is_refused_from_its_header(tmp_path):
    """A PNG announcing 12000 x 12000 pixels: refused unread (its pixel data is one empty
    row, so an attempt to decode it would fail otherwise)."""

    def chunk(kind, data):
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    bomb = tmp_path / "bomb.png"
    header = struct.pack(">IIBBBBB", 12000, 12000, 8, 0, 0, 0, 0)
    signature = b"\x89PNG\r\n\x1a\n"
    pixels = zlib.compress(b"\0")
    bomb.write_bytes(
        signature + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")
    )
    ((path, reason),) = find_bad_images([str(bomb)])
    assert reason == (
        "is 12000x12000 = 144,000,000 pixels, more than data.max_image_pixels = 89,478,485 "
        "(refused from its header, not decoded)"
    )


def test_layout_names_person_folders_that_lead_nowhere(tmp_path):
    root = make_sysu(tmp_path)
    (root / "cam2" / "0009").symlink_to(root / "cam2" / "0009")
    (root / "cam2" / "0010").symlink_to(root / "gone")
    groups = layout_images(str(root), "sysu")
    assert groups["cam2"][-2:] == [str(root / "cam2" / "0009"), str(root / "cam2" / "0010")]
    bad = dict(find_bad_images(groups["cam2"]))
    assert "symlink loop" in bad[str(root / "cam2" / "0009")]
    assert "dangling symlink" in bad[str(root / "cam2" / "0010")]


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
