"""Finds image files that cannot be decoded; used by tools/check_dataset.py and by training
when TensorFlow reports a decode failure without naming the file."""

from __future__ import annotations

import os
from collections.abc import Iterable

from PIL import Image
from tqdm import tqdm

from tfreid.data.samples import list_images, require_dir


def image_problem(path: str) -> str | None:
    """Why `path` is not a fully decodable image, or None when it is."""
    try:
        with Image.open(path) as image:
            image.load()  # decodes every byte: truncated files fail here
    except (OSError, SyntaxError, ValueError) as err:
        return str(err) or type(err).__name__
    return None


def find_bad_images(paths: Iterable[str], progress: bool = False) -> list[tuple[str, str]]:
    """(path, reason) for every file of `paths` that does not decode."""
    paths = list(paths)
    bad = []
    for path in tqdm(paths, desc="checking images", unit="img", disable=not progress):
        problem = image_problem(path)
        if problem is not None:
            bad.append((path, problem))
    return bad


def layout_images(root: str, fmt: str) -> dict[str, list[str]]:
    """Every image of a SYSU-MM01 (per camera) or RegDB (per modality) tree, by folder."""
    require_dir(root, f"{fmt} root")
    if fmt == "sysu":
        groups = [f"cam{c}" for c in range(1, 7)]
    elif fmt == "regdb":
        groups = ["Visible", "Thermal"]
    else:
        raise ValueError(f"format must be 'sysu' or 'regdb', got {fmt!r}")
    images = {}
    for group in groups:
        group_dir = os.path.join(root, group)
        require_dir(group_dir, f"{fmt} folder")
        images[group] = [
            os.path.join(group_dir, person, name)
            for person in sorted(os.listdir(group_dir))
            if os.path.isdir(os.path.join(group_dir, person))
            for name in list_images(os.path.join(group_dir, person))
        ]
    return images
