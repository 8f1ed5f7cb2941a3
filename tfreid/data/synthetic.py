"""Synthetic SYSU-MM01 and RegDB data sets, written in the real on-disk layouts.

Every identity is a procedurally drawn pedestrian: a body shape plus clothing parts, each part
with a visible colour and an infrared reflectance drawn independently of that colour. So colour
does not transfer across modalities (the modality gap), while body shape and garment patterns
(stripes, checks, colour blocks, bags, sleeves) do, which makes identity learnable from both.
RGB cameras see the colours under their own lighting and scenery; IR cameras see the
reflectances under their own exposure, illuminator fall-off, blur and noise. All randomness comes
from NumPy generators keyed by (seed, purpose, index), so one seed gives byte-identical files and
identity `pid` looks the same whatever the number of identities.
"""

from __future__ import annotations

import io
import os
from typing import NamedTuple

import numpy as np
import scipy.io
from PIL import Image
from scipy import ndimage

from tfreid.data.pedestrians import draw_person, draw_pose, draw_wardrobe, hsv_to_rgb
from tfreid.data.render import render_person

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
MAX_IDS = 9999  # 4-digit SYSU folders, 5-digit RegDB image counters
TRIALS = 10
LIGHT_SLOPE = 0.8  # log brightness change from the top to the bottom of the image, at most


class Camera(NamedTuple):
    """A fixed camera: its scenery (a panorama 3 images wide, cropped per image) and optics."""

    infrared: bool
    gain: np.ndarray  # float [3] colour temperature x brightness, or [1] IR exposure
    background: np.ndarray  # float32 [H, 3W, 3 or 1] albedo or IR reflectance
    noise: float
    blur: float


# scene: (infrared, colour temperature range, brightness range, scenery value range, noise, blur)
_SCENES = {
    "indoor": (False, (0.2, 1.0), (0.75, 1.0), (0.35, 0.8), 0.012, 0.45),
    "outdoor": (False, (-1.0, 0.1), (0.95, 1.2), (0.3, 0.9), 0.012, 0.45),
    "nir_indoor": (True, (0.0, 0.0), (0.95, 1.15), (0.25, 0.55), 0.025, 0.9),
    "nir_outdoor": (True, (0.0, 0.0), (0.8, 1.0), (0.05, 0.3), 0.035, 1.1),
    "thermal": (True, (0.0, 0.0), (0.9, 1.1), (0.05, 0.2), 0.02, 1.4),
}


def _scenery(
    rng: np.random.Generator, height: int, width: int, infrared: bool, values
) -> np.ndarray:
    """A wall or street above a floor line with doors, pillars and windows; [H, 3W, C]."""
    wide, channels = 3 * width, 1 if infrared else 3

    def colour():
        value = rng.uniform(*values)
        return (
            np.array([value])
            if infrared
            else hsv_to_rgb(rng.uniform(), rng.uniform(0, 0.35), value)
        )

    ys = np.arange(height, dtype=np.float32)[:, None, None]
    xs = np.arange(wide, dtype=np.float32)[None, :, None]
    horizon = rng.uniform(0.55, 0.75) * height
    image = np.where(ys < horizon, colour(), colour()) * np.ones((height, wide, channels))
    for _ in range(rng.integers(3, 8)):
        x0, y0 = rng.uniform(-0.2, 1.0) * wide, rng.uniform(0.0, 0.5) * horizon
        x1 = x0 + rng.uniform(0.15, 0.6) * width
        inside = (xs >= x0) & (xs < x1) & (ys >= y0) & (ys < horizon)
        image = np.where(inside, colour(), image)
    ripple = 1.0 + 0.08 * np.sin(xs * rng.uniform(0.05, 0.2) + rng.uniform(0, 2 * np.pi))
    return (image * ripple).astype(np.float32)


def make_camera(rng: np.random.Generator, scene: str, height: int, width: int) -> Camera:
    """A camera of a `scene` in _SCENES: RGB indoor/outdoor, near-infrared or thermal."""
    infrared, temperature, brightness, values, noise, blur = _SCENES[scene]
    t, level = rng.uniform(*temperature), rng.uniform(*brightness)
    gain = np.array([level]) if infrared else level * np.array([1 + 0.15 * t, 1.0, 1 - 0.18 * t])
    return Camera(infrared, gain, _scenery(rng, height, width, infrared, values), noise, blur)


def _uneven_light(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    """float32 [H, W, 1]: light falling on the person from above, below or a side.

    Up to 2.2x brighter at one end of the body than at the other, so a garment's gray level
    or infrared intensity varies from image to image while its shape and pattern do not.
    """
    rows = (np.arange(height, dtype=np.float32) + 0.5) / height - 0.5
    cols = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
    slope_down, slope_across = rng.uniform(-LIGHT_SLOPE, LIGHT_SLOPE, 2) * np.array([1.0, 0.5])
    return np.exp(slope_down * rows[:, None, None] + slope_across * cols[None, :, None]).astype(
        np.float32
    )


def photograph(
    camera: Camera, layer: np.ndarray, alpha: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """One camera image of a rendered person: uint8 [H, W, 3] (RGB) or [H, W] (IR)."""
    height, width = alpha.shape
    start = rng.integers(0, camera.background.shape[1] - width + 1)
    channels = layer[..., 3:] if camera.infrared else layer[..., :3]
    lit = channels * _uneven_light(rng, height, width)
    image = lit + (1.0 - alpha[..., None]) * camera.background[:, start : start + width]
    image = image * (camera.gain * rng.uniform(0.9, 1.1)).astype(np.float32)
    if camera.infrared:  # brightest in the middle: the NIR illuminator, thermal lens fall-off
        across = (np.arange(width, dtype=np.float32) + 0.5) / width - 0.5
        image = image * (1.1 - 0.8 * across**2)[None, :, None]
    image = ndimage.gaussian_filter(image, sigma=(camera.blur, camera.blur, 0))
    image = image + camera.noise * rng.standard_normal(image.shape, dtype=np.float32)
    image = np.round(np.clip(image, 0.0, 1.0) * 255.0).astype(np.uint8)
    return image[..., 0] if camera.infrared else image


def _check_request(out_dir: str, num_ids, min_ids: int, seed, height, width) -> str:
    """Validates the arguments of a writer and creates `out_dir`; returns its absolute path."""
    for name, value, low, high in (
        ("num_ids", num_ids, min_ids, MAX_IDS),
        ("seed", seed, 0, 2**63),
        ("height", height, 16, 4096),
        ("width", width, 8, 4096),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be an integer, got {value!r}")
        if not low <= value <= high:
            raise ValueError(f"{name} must be in {low}..{high}, got {value}")
    if os.path.exists(out_dir) and (not os.path.isdir(out_dir) or os.listdir(out_dir)):
        raise FileExistsError(f"output directory {out_dir} exists and is not an empty directory")
    os.makedirs(out_dir, exist_ok=True)
    return os.path.abspath(out_dir)


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


def _save_sysu_image(image: np.ndarray, path: str, camera: int) -> None:
    # Real SYSU-MM01 IR images come both ways: camera 3 as 3-channel, camera 6 as 1-channel.
    if camera == 3:
        image = np.repeat(image[..., None], 3, axis=-1)
    Image.fromarray(image).save(path, quality=90)


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
    out_dir: str, num_ids: int = 100, seed: int = 0, height: int = 128, width: int = 64
) -> str:
    """Writes a SYSU-MM01-layout data set of `num_ids` identities; returns its absolute root.

    Layout: camC/PPPP/NNNN.jpg, exp/{train,val,test}_id.txt, exp/rand_perm_cam.mat.
    Raises ValueError for too few ids or a tiny image size, FileExistsError for a non-empty
    out_dir.
    """
    root = _check_request(out_dir, num_ids, SYSU_MIN_IDS, seed, height, width)
    splits = _sysu_splits(num_ids, np.random.default_rng([seed, 0]))
    cameras = {
        c: make_camera(np.random.default_rng([seed, 1, c]), SYSU_SCENES[c], height, width)
        for c in range(1, 7)
    }
    wardrobe = draw_wardrobe(np.random.default_rng([seed, 5]))
    counts = {}
    for camera in cameras:
        os.makedirs(os.path.join(root, f"cam{camera}"))
    for pid in range(1, num_ids + 1):
        rng = np.random.default_rng([seed, 2, pid])
        person = draw_person(rng, wardrobe)
        for camera in _sysu_cameras(rng, pid in splits["test"]):
            folder = os.path.join(root, f"cam{camera}", f"{pid:04d}")
            os.makedirs(folder)
            counts[camera, pid] = int(rng.integers(*SYSU_IMAGES))
            for number in range(1, counts[camera, pid] + 1):
                layer, alpha = render_person(person, draw_pose(rng), height, width)
                image = photograph(cameras[camera], layer, alpha, rng)
                _save_sysu_image(image, os.path.join(folder, f"{number:04d}.jpg"), camera)
    os.makedirs(os.path.join(root, "exp"))
    for split, ids in splits.items():
        with open(os.path.join(root, "exp", f"{split}_id.txt"), "w", encoding="utf-8") as f:
            f.write(",".join(str(pid) for pid in ids))
    _write_permutations(os.path.join(root, "exp", "rand_perm_cam.mat"), counts, num_ids, seed)
    return root


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
    out_dir: str, num_ids: int = 100, seed: int = 0, height: int = 128, width: int = 64
) -> str:
    """Writes a RegDB-layout data set of `num_ids` identities; returns its absolute root.

    Layout: {Visible,Thermal}/<pid>/<gender>_<front|back>_<v|t>_<counter>_<pid>.bmp, 10 aligned
    visible/thermal pairs per person (visible 3-channel, thermal 8-bit grayscale BMP), and
    idx/{train,test}_{visible,thermal}_{1..10}.txt. Raises like write_sysu.
    """
    root = _check_request(out_dir, num_ids, REGDB_MIN_IDS, seed, height, width)
    cameras = {
        "Visible": make_camera(np.random.default_rng([seed, 1, 1]), "outdoor", height, width),
        "Thermal": make_camera(np.random.default_rng([seed, 1, 2]), "thermal", height, width),
    }
    wardrobe = draw_wardrobe(np.random.default_rng([seed, 5]))
    files = {folder: {} for folder in cameras}
    for pid in range(1, num_ids + 1):
        rng = np.random.default_rng([seed, 2, pid])
        person = draw_person(rng, wardrobe)
        gender = "female" if person.female else "male"
        for folder in cameras:
            os.makedirs(os.path.join(root, folder, str(pid)))
            files[folder][pid] = []
        for number in range(REGDB_IMAGES_PER_ID):
            pose = draw_pose(rng)  # the two cameras of RegDB capture the same moment
            layer, alpha = render_person(person, pose, height, width)
            counter = (pid - 1) * REGDB_IMAGES_PER_ID + number + 1
            for folder, camera in cameras.items():
                view = "back" if pose.back else "front"
                name = f"{gender}_{view}_{folder[0].lower()}_{counter:05d}_{pid}.bmp"
                image = photograph(camera, layer, alpha, rng)
                Image.fromarray(image).save(os.path.join(root, folder, str(pid), name))
                files[folder][pid].append(name)
    _write_regdb_splits(root, files, num_ids, seed)
    return root
