"""Bad-image detection and tools/check_dataset.py."""

import os
import subprocess
import sys

import numpy as np
from PIL import Image

from tfreid.data.check import find_bad_images, layout_images

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def write_image(path, mode="RGB", fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    shape = (16, 8, 3) if mode == "RGB" else (16, 8)
    pixels = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    Image.fromarray(pixels, mode).save(path, format=fmt)


def make_sysu(root):
    for cam in range(1, 7):
        for pid in (1, 2):
            write_image(root / f"cam{cam}" / f"{pid:04d}" / "0001.jpg", "L" if cam == 6 else "RGB")
    return root


def test_find_bad_images_reports_truncated_and_garbage_files(tmp_path):
    good = tmp_path / "good.png"
    write_image(good)
    truncated = tmp_path / "truncated.jpg"
    write_image(truncated, fmt="JPEG")
    truncated.write_bytes(truncated.read_bytes()[:200])
    garbage = tmp_path / "garbage.bmp"
    garbage.write_bytes(b"not an image at all")
    bad = dict(find_bad_images([str(good), str(truncated), str(garbage)]))
    assert set(bad) == {str(truncated), str(garbage)}
    assert "truncated" in bad[str(truncated)].lower()


def test_layout_images_counts_per_camera(tmp_path):
    groups = layout_images(str(make_sysu(tmp_path)), "sysu")
    assert list(groups) == [f"cam{c}" for c in range(1, 7)]
    assert all(len(paths) == 2 for paths in groups.values())


def run_tool(*args):
    return subprocess.run(
        [sys.executable, os.path.join(REPO, "tools", "check_dataset.py"), *args],
        capture_output=True,
        text=True,
    )


def test_check_dataset_tool_exit_codes(tmp_path):
    root = make_sysu(tmp_path / "sysu")
    result = run_tool(str(root), "--format", "sysu")
    assert result.returncode == 0, result.stderr
    assert "cam6: 2 images" in result.stdout and "12 images, 0 bad" in result.stdout
    (root / "cam3" / "0002" / "0001.jpg").write_bytes(b"\xff\xd8\xff")
    result = run_tool(str(root), "--format", "sysu")
    assert result.returncode == 1
    assert "BAD " + str(root / "cam3" / "0002" / "0001.jpg") in result.stdout
    result = run_tool(str(tmp_path / "missing"), "--format", "regdb")
    assert result.returncode == 2
    assert "missing does not exist" in result.stderr
