"""Synthetic SYSU-MM01 and RegDB data sets (and the writer of each layout, LLCM's in
synthetic_llcm.py), written in the real on-disk layouts.

Every identity is a procedurally drawn pedestrian (pedestrians.py, render.py): a body build plus
garments whose cuts and patterns show in both modalities, with visible colours and infrared
reflectances drawn independently, so colour does not transfer across modalities while shapes
and patterns mostly do. Every image is a new view: viewpoint, walking pose, scale, detection
box, clutter and occluders (cameras.py). A style (styles.py) sets the drawing vocabulary and
camera effects; sets of different styles differ as sets of different generators would.
All randomness comes from NumPy generators keyed by (seed, purpose, index), so one seed and
style give byte-identical files and identity `pid` looks the same whatever the number of
identities. A set is written under a hidden sibling name and renamed into place when complete.
"""

from __future__ import annotations

import io
import os

import numpy as np
import scipy.io
from PIL import Image

from tfreid.data.cameras import make_camera, photograph
from tfreid.data.pedestrians import draw_person, draw_pose, draw_wardrobe
from tfreid.data.render import render_person
from tfreid.data.styles import get_style
from tfreid.data.synthetic_llcm import write_llcm
from tfreid.data.synthetic_output import check_request, written_atomically

SYSU_RGB_CAMERAS = (1, 2, 4, 5)
SYSU_IR_CAMERAS = (3, 6)
SYSU_SCENES = {
    1: "indoor",
    2: "indoor",
    3: "nir_indoor",
    4: "outdoor",
    5: "outdoor",
    6: "nir_outdoor",
}
SYSU_MIN_IDS = 5  # >= 2 train, >= 1 val, >= 2 test ids
REGDB_MIN_IDS = 4  # >= 2 train and >= 2 test ids per trial
REGDB_IMAGES_PER_ID = 10
SYSU_IMAGES = (4, 21)  # images per identity and camera: at least, at most + 1 (real: up to 20)
TRIALS = 10


def _sysu_splits(num_ids: int, rng: np.random.Generator) -> dict[str, list[int]]:
    """About 60/20/20% of the ids, shuffled over the id range as in the real split files."""
    order = rng.permutation(np.arange(1, num_ids + 1))
    test, val = max(2, round(0.2 * num_ids)), max(1, round(0.2 * num_ids))
    parts = {"test": order[:test], "val": order[test : test + val], "train": order[test + val :]}
    return {split: sorted(int(pid) for pid in ids) for split, ids in parts.items()}


def _sysu_cameras(rng: np.random.Generator, is_test: bool) -> list[int]:
    """Drops 0-2 camera folders, keeping an RGB and an IR camera (and cam 1 or 2 for test ids)."""

    def usable(cameras):
        rgb, ir = set(cameras) & set(SYSU_RGB_CAMERAS), set(cameras) & set(SYSU_IR_CAMERAS)
        return bool(rgb and ir and (not is_test or rgb & {1, 2}))

    cameras = [1, 2, 3, 4, 5, 6]
    for _ in range(rng.choice([0, 0, 1, 1, 2])):
        droppable = [c for c in cameras if usable([k for k in cameras if k != c])]
        cameras.remove(int(rng.choice(droppable)))
    return cameras


def _save_sysu_image(image: np.ndarray, path: str, camera: int, quality: int) -> None:
    # Real SYSU-MM01 IR images come both ways: camera 3 as 3-channel, camera 6 as 1-channel.
    if camera == 3:
        image = np.repeat(image[..., None], 3, axis=-1)
    Image.fromarray(image).save(path, quality=quality)


def _write_permutations(
    path: str, counts: dict[tuple[int, int], int], num_ids: int, seed: int
) -> None:
    """The kit's rand_perm_cam: 6 x 1 cells of (num ids) x 1 cells of 10 x n permutations."""
    rng = np.random.default_rng([seed, 3])
    cameras = np.empty((6, 1), dtype=object)
    for camera in range(1, 7):
        persons = np.empty((num_ids, 1), dtype=object)
        for pid in range(1, num_ids + 1):
            n = counts.get((camera, pid), 0)
            rows = [rng.permutation(n) + 1.0 for _ in range(TRIALS)] if n else None
            persons[pid - 1, 0] = np.array(rows, dtype=np.float64) if n else np.zeros((0, 0))
        cameras[camera - 1, 0] = persons
    buffer = io.BytesIO()
    scipy.io.savemat(buffer, {"rand_perm_cam": cameras})
    content = bytearray(buffer.getvalue())
    # savemat stamps the creation time into the 116-byte text header; fix it for reproducibility.
    content[:116] = b"MATLAB 5.0 MAT-file, written by tfreid.data.synthetic".ljust(116)
    with open(path, "wb") as f:
        f.write(content)


def write_sysu(
    out_dir: str,
    num_ids: int = 100,
    seed: int = 0,
    height: int = 128,
    width: int = 64,
    style: str = "default",
) -> str:
    """Writes a SYSU-MM01-layout data set of `num_ids` identities; returns its absolute root.

    Layout: camC/PPPP/NNNN.jpg, exp/{train,val,test}_id.txt, exp/rand_perm_cam.mat. `style`
    names a generator style (styles.STYLES). The set is written beside `out_dir` and renamed
    into place when complete. Raises ValueError for too few ids, a tiny image size or an
    unknown style, FileExistsError for a non-empty out_dir.
    """
    check_request(out_dir, num_ids, SYSU_MIN_IDS, seed, height, width)
    look = get_style(style)
    splits = _sysu_splits(num_ids, np.random.default_rng([seed, 0]))
    cameras = {
        c: make_camera(np.random.default_rng([seed, 1, c]), SYSU_SCENES[c], height, width, look)
        for c in range(1, 7)
    }
    wardrobe = draw_wardrobe(np.random.default_rng([seed, 5]))
    counts = {}
    with written_atomically(out_dir) as root:
        for pid in range(1, num_ids + 1):
            rng = np.random.default_rng([seed, 2, pid])
            person = draw_person(rng, wardrobe, look)
            for camera in _sysu_cameras(rng, pid in splits["test"]):
                folder = os.path.join(root, f"cam{camera}", f"{pid:04d}")
                os.makedirs(folder)
                counts[camera, pid] = int(rng.integers(*SYSU_IMAGES))
                for number in range(1, counts[camera, pid] + 1):
                    layer, alpha = render_person(person, draw_pose(rng, look), height, width)
                    image = photograph(cameras[camera], layer, alpha, rng, look)
                    path = os.path.join(folder, f"{number:04d}.jpg")
                    _save_sysu_image(image, path, camera, cameras[camera].quality)
        for camera in cameras:  # a camera may have seen none of a few ids
            os.makedirs(os.path.join(root, f"cam{camera}"), exist_ok=True)
        os.makedirs(os.path.join(root, "exp"))
        for split, ids in splits.items():
            with open(os.path.join(root, "exp", f"{split}_id.txt"), "w", encoding="utf-8") as f:
                f.write(",".join(str(pid) for pid in ids))
        permutations = os.path.join(root, "exp", "rand_perm_cam.mat")
        _write_permutations(permutations, counts, num_ids, seed)
    return os.path.abspath(out_dir)


def _write_regdb_splits(
    root: str, files: dict[str, dict[int, list[str]]], num_ids: int, seed: int
) -> None:
    """idx/{train,test}_{visible,thermal}_{t}.txt: a seeded half of the ids trains in trial t."""
    os.makedirs(os.path.join(root, "idx"))
    for trial in range(1, TRIALS + 1):
        order = np.random.default_rng([seed, 4, trial]).permutation(np.arange(1, num_ids + 1))
        halves = {"train": sorted(order[: num_ids // 2]), "test": sorted(order[num_ids // 2 :])}
        for split, pids in halves.items():
            for folder in ("Visible", "Thermal"):
                lines = [
                    f"{folder}/{pid}/{name} {label}\n"
                    for label, pid in enumerate(pids)
                    for name in sorted(files[folder][pid])
                ]
                path = os.path.join(root, "idx", f"{split}_{folder.lower()}_{trial}.txt")
                with open(path, "w", encoding="utf-8") as f:
                    f.writelines(lines)


def write_regdb(
    out_dir: str,
    num_ids: int = 100,
    seed: int = 0,
    height: int = 128,
    width: int = 64,
    style: str = "default",
) -> str:
    """Writes a RegDB-layout data set of `num_ids` identities; returns its absolute root.

    Layout: {Visible,Thermal}/<pid>/<gender>_<front|back>_<v|t>_<counter>_<pid>.bmp, 10 aligned
    visible/thermal pairs per person (visible 3-channel, thermal 8-bit grayscale BMP), and
    idx/{train,test}_{visible,thermal}_{1..10}.txt. Written and raises like write_sysu.
    """
    check_request(out_dir, num_ids, REGDB_MIN_IDS, seed, height, width)
    look = get_style(style)
    cameras = {
        "Visible": make_camera(np.random.default_rng([seed, 1, 1]), "outdoor", height, width, look),
        "Thermal": make_camera(np.random.default_rng([seed, 1, 2]), "thermal", height, width, look),
    }
    wardrobe = draw_wardrobe(np.random.default_rng([seed, 5]))
    files = {folder: {} for folder in cameras}
    with written_atomically(out_dir) as root:
        for pid in range(1, num_ids + 1):
            rng = np.random.default_rng([seed, 2, pid])
            person = draw_person(rng, wardrobe, look)
            gender = "female" if person.female else "male"
            for folder in cameras:
                os.makedirs(os.path.join(root, folder, str(pid)))
                files[folder][pid] = []
            for number in range(REGDB_IMAGES_PER_ID):
                pose = draw_pose(rng, look)  # the two cameras of RegDB capture the same moment
                layer, alpha = render_person(person, pose, height, width)
                counter = (pid - 1) * REGDB_IMAGES_PER_ID + number + 1
                for folder, camera in cameras.items():
                    view = "back" if pose.back else "front"
                    name = f"{gender}_{view}_{folder[0].lower()}_{counter:05d}_{pid}.bmp"
                    image = photograph(camera, layer, alpha, rng, look)
                    Image.fromarray(image).save(os.path.join(root, folder, str(pid), name))
                    files[folder][pid].append(name)
        _write_regdb_splits(root, files, num_ids, seed)
    return os.path.abspath(out_dir)


def writer(fmt: str):
    """The writer of a layout: "sysu", "regdb" or "llcm" (synthetic_llcm.write_llcm)."""
    writers = {"sysu": write_sysu, "regdb": write_regdb, "llcm": write_llcm}
    if fmt not in writers:
        raise ValueError(f"format must be one of {sorted(writers)}, got {fmt!r}")
    return writers[fmt]
