"""A synthetic LLCM data set in the layout the authors' code reads (docs/datasets.md).

The same people and cameras as the SYSU-MM01 and RegDB writers (synthetic.py), filmed as LLCM
films them: nine cameras, each recording in visible light by day (dim, noisy low-light scenes
for a third of them) and in near-infrared by night; a person passes a few cameras, by day, by
night or both. Training images sit in `vis/PPPP/` and `nir/PPPP/` and are named by the lists
`idx/train_{vis,nir}.txt` (labels 0..n-1 by sorted id); test images sit in
`test_{vis,nir}/camN/PPPP/`, with NIR on the cameras the real test set has (1, 2, 4-9). File
names follow the real set's `PPPP_cCC_sSSSSSS_fFFFF_{vis,nir}.jpg`. One seed and style give
byte-identical files; the set is written beside its directory and renamed into place.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image

from tfreid.data.cameras import make_camera, photograph
from tfreid.data.llcm import NIR_CAMERAS, VIS_CAMERAS
from tfreid.data.pedestrians import draw_person, draw_pose, draw_wardrobe
from tfreid.data.render import render_person
from tfreid.data.styles import get_style
from tfreid.data.synthetic_output import check_request, written_atomically

LLCM_MIN_IDS = 4  # >= 2 train and >= 2 test ids
LLCM_IMAGES = (2, 6)  # images per (identity, camera, modality): at least, at most + 1
VIS_SCENES = ("low_light", "outdoor", "indoor")  # camera c films scene VIS_SCENES[c % 3]
MODALITY_TAGS = ("vis", "nir")


def _llcm_split(num_ids: int, rng: np.random.Generator) -> tuple[list[int], list[int]]:
    """(train ids, test ids), about a third testing as in the real set (351 of 1,064)."""
    order = rng.permutation(np.arange(1, num_ids + 1))
    test = max(2, round(num_ids / 3))
    return sorted(int(p) for p in order[test:]), sorted(int(p) for p in order[:test])


def _appearances(rng: np.random.Generator) -> list[tuple[int, int]]:
    """(camera, modality 0 = vis / 1 = nir) pairs a person is filmed in: 2-4 cameras, each by
    day, by night or both. Redrawn until a NIR image can match a visible image of another
    camera (the protocol removes same-camera matches)."""
    while True:
        cameras = sorted(int(c) for c in rng.choice(VIS_CAMERAS, rng.integers(2, 5), False))
        seen = []
        for camera in cameras:
            when = rng.choice(["day", "night", "both"])
            if when != "night":
                seen.append((camera, 0))
            if when != "day" and camera in NIR_CAMERAS:
                seen.append((camera, 1))
        vis = {c for c, m in seen if m == 0}
        nir = {c for c, m in seen if m == 1}
        if vis and nir and len(vis | nir) > 1:
            return seen


def _cameras(seed: int, height: int, width: int, look) -> dict[tuple[int, int], object]:
    cameras = {}
    for c in VIS_CAMERAS:
        scene = VIS_SCENES[c % 3]
        cameras[c, 0] = make_camera(np.random.default_rng([seed, 1, c]), scene, height, width, look)
        night = "nir_indoor" if scene == "indoor" else "nir_outdoor"
        rng = np.random.default_rng([seed, 1, 10 + c])
        cameras[c, 1] = make_camera(rng, night, height, width, look)
    return cameras


def write_llcm(
    out_dir: str,
    num_ids: int = 100,
    seed: int = 0,
    height: int = 128,
    width: int = 64,
    style: str = "default",
) -> str:
    """Writes an LLCM-layout data set of `num_ids` identities; returns its absolute root.

    Written and raises like `synthetic.write_sysu` (ValueError for too few ids, a tiny image
    size or an unknown style; FileExistsError for a non-empty out_dir).
    """
    check_request(out_dir, num_ids, LLCM_MIN_IDS, seed, height, width)
    look = get_style(style)
    train, test = _llcm_split(num_ids, np.random.default_rng([seed, 0]))
    cameras = _cameras(seed, height, width, look)
    wardrobe = draw_wardrobe(np.random.default_rng([seed, 5]))
    lists = {0: [], 1: []}
    label = {pid: i for i, pid in enumerate(train)}
    with written_atomically(out_dir) as root:
        for pid in range(1, num_ids + 1):
            rng = np.random.default_rng([seed, 2, pid])
            person = draw_person(rng, wardrobe, look)
            for camera, modality in _appearances(rng):
                tag = MODALITY_TAGS[modality]
                if pid in label:
                    folder = os.path.join(tag, f"{pid:04d}")
                else:
                    folder = os.path.join(f"test_{tag}", f"cam{camera}", f"{pid:04d}")
                os.makedirs(os.path.join(root, folder), exist_ok=True)
                hour, minute, second = rng.integers(24), rng.integers(60), rng.integers(60)
                clock = int(10000 * hour + 100 * minute + second)  # the real names' hhmmss
                for frame in range(int(rng.integers(*LLCM_IMAGES))):
                    layer, alpha = render_person(person, draw_pose(rng, look), height, width)
                    image = photograph(cameras[camera, modality], layer, alpha, rng, look)
                    name = f"{pid:04d}_c{camera:02d}_s{clock:06d}_f{100 * frame + 1:04d}_{tag}.jpg"
                    _save(image, os.path.join(root, folder, name), cameras[camera, modality])
                    if pid in label:
                        lists[modality].append(f"{folder}/{name} {label[pid]}\n")
        _write_index(root, lists, test)
    return os.path.abspath(out_dir)


def _save(image: np.ndarray, path: str, camera) -> None:
    if image.ndim == 2:  # NIR stored as 3-channel JPEG
        image = np.repeat(image[..., None], 3, axis=-1)
    Image.fromarray(image).save(path, quality=camera.quality)


def _write_index(root: str, lists: dict[int, list[str]], test: list[int]) -> None:
    """idx/train_{vis,nir}.txt (by label, then name), idx/test_id.txt, and every test camera
    folder (a camera may have filmed none of a few ids)."""
    for tag, cameras in (("vis", VIS_CAMERAS), ("nir", NIR_CAMERAS)):
        for camera in cameras:
            os.makedirs(os.path.join(root, f"test_{tag}", f"cam{camera}"), exist_ok=True)
    os.makedirs(os.path.join(root, "idx"))
    for modality, lines in lists.items():
        ordered = sorted(lines, key=lambda line: (int(line.split()[1]), line))
        name = f"train_{MODALITY_TAGS[modality]}.txt"
        with open(os.path.join(root, "idx", name), "w", encoding="utf-8") as f:
            f.writelines(ordered)
    with open(os.path.join(root, "idx", "test_id.txt"), "w", encoding="utf-8") as f:
        f.write(",".join(str(pid) for pid in test))
