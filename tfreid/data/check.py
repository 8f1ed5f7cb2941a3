"""Which image files the input pipeline cannot read, and why.

"Readable" has one definition: the pipeline's own `decode_image` succeeds on the file. Files
are checked by running exactly that function over them (in parallel, through tf.data), so
tools/check_dataset.py, the check before a training run and the naming of a file that failed in
the middle of training or evaluation all agree with what training and evaluation do. The reason
given for a failed file is found afterwards, in plain Python where that is clearer than
TensorFlow's message (a missing file, a directory, a TIFF file under a .jpg name).

Some files never reach the decoder (`unsafe_files`): anything but a regular file (a FIFO or a
device would block the reader or never end), a name TensorFlow cannot take (not UTF-8), and an
image whose header gives more than data.max_image_pixels pixels (a decompression bomb). The
limit is checked once, before training or evaluation; a file replaced by a larger one after
that check is not caught (docs/reliability.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Sequence

import tensorflow as tf
from PIL import Image
from tqdm import tqdm

from tfreid.config import MAX_IMAGE_PIXELS
from tfreid.data import llcm, regdb, sysu
from tfreid.data.pipeline import IMAGE_MAGIC, decode_image
from tfreid.data.samples import (
    IR,
    RGB,
    DatasetError,
    Sample,
    file_problem,
    list_images,
    read_list_file,
    require_dir,
)
from tfreid.errors import first_line, shown_path


def find_bad_images(
    paths: Iterable[str], progress: bool = False, max_pixels: int = MAX_IMAGE_PIXELS
) -> list[tuple[str, str]]:
    """(path, reason) for every file of `paths` that the pipeline's `decode_image` cannot
    read, or must not be given (see `unsafe_files`), in the order of `paths`."""
    paths = list(dict.fromkeys(str(p) for p in paths))
    unsafe = unsafe_files(paths, max_pixels)
    decodable = [path for path in paths if path not in unsafe]
    good = set()
    with tqdm(total=len(paths), desc="checking images", unit="img", disable=not progress) as bar:
        bar.update(len(unsafe))
        if decodable:
            readable = (
                tf.data.Dataset.from_tensor_slices(decodable)
                .map(_decoded_path, num_parallel_calls=tf.data.AUTOTUNE, deterministic=False)
                .ignore_errors()
            )
            for path, _ in readable.as_numpy_iterator():
                good.add(path.decode())
                bar.update(1)
        bar.update(len(decodable) - len(good))  # the failed ones were checked too
    return [(path, unsafe.get(path) or image_problem(path)) for path in paths if path not in good]


def unsafe_files(paths: Iterable[str], max_pixels: int = MAX_IMAGE_PIXELS) -> dict[str, str]:
    """{path: reason} for the files of `paths` that must not reach the decoder: not a regular
    file, or a name TensorFlow cannot take (`file_problem`, from metadata only), or an image of
    more than `max_pixels` pixels by its header (a small file can decode to gigabytes). Only
    headers are read, so this is quick: tools/test.py runs it before an evaluation."""
    unsafe = {}
    with _pil_limit_off():
        for path in paths:
            reason = file_problem(path) or _pixel_problem(path, max_pixels)
            if reason:
                unsafe[path] = reason
    return unsafe


def _pixel_problem(path: str, max_pixels: int) -> str | None:
    try:
        with Image.open(path) as image:  # reads the header only, decodes nothing
            width, height = image.size
    except Exception:  # not an image PIL knows: the decoder's run names it
        return None
    if width * height <= max_pixels:
        return None
    return (
        f"is {width}x{height} = {width * height:,} pixels, more than data.max_image_pixels = "
        f"{max_pixels:,} (refused from its header, not decoded)"
    )


@contextlib.contextmanager
def _pil_limit_off():
    """PIL's own decompression-bomb limit off while headers are read: data.max_image_pixels
    is the one limit (PIL would refuse an image above twice its limit with an error)."""
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _decoded_path(path: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    # A value computed from the pixels: the whole decode must run (a control dependency or the
    # shape alone lets graph optimisation skip the part that fails on a truncated file).
    return path, tf.reduce_max(decode_image(path, tf.constant(0)))


def image_problem(path: str) -> str:
    """Why the pipeline cannot read `path` (for a file `find_bad_images` reported)."""
    problem = file_problem(path)
    if problem:
        return problem
    try:
        with open(path, "rb") as f:
            head = f.read(8)
    except OSError as err:
        return f"cannot be read: {err.strerror or err}"
    if not head:
        return "is empty (0 bytes)"
    if not any(head.startswith(magic) for magic in IMAGE_MAGIC.values()):
        return f"{_format_name(path)}; the pipeline reads JPEG, PNG and BMP files only"
    try:
        decode_image(tf.constant(path), tf.constant(0))
    except tf.errors.OpError as err:
        return f"cannot be decoded ({first_line(err)}); the file is probably truncated or damaged"
    return "could not be read (it reads now: was it changed meanwhile?)"


def _format_name(path: str) -> str:
    try:
        with Image.open(path) as image:
            return f"is a {image.format} file"
    except Exception:  # any file PIL cannot identify either
        return "is not an image file"


def describe(bad: Sequence[tuple[str, str]], limit: int = 3) -> str:
    """One line naming the first `limit` bad files and how many more there are."""
    listed = "; ".join(f"{shown_path(path)}: {reason}" for path, reason in bad[:limit])
    more = f" (and {len(bad) - limit} more)" if len(bad) > limit else ""
    return f"{listed}{more}"


def require_readable(
    samples: Sequence[Sample],
    what: str,
    progress: bool = False,
    max_pixels: int = MAX_IMAGE_PIXELS,
) -> None:
    """Raises DatasetError naming the files of `samples` the pipeline cannot read."""
    bad = find_bad_images(sorted({s.path for s in samples}), progress, max_pixels)
    if bad:
        raise DatasetError(f"{len(bad)} {what} image(s) cannot be read: {describe(bad)}")


def require_safe(samples: Sequence[Sample], what: str, max_pixels: int = MAX_IMAGE_PIXELS) -> None:
    """Raises DatasetError naming the files of `samples` that must not reach the decoder
    (`unsafe_files`); headers only, nothing is decoded."""
    unsafe = unsafe_files(sorted({s.path for s in samples}), max_pixels)
    if unsafe:
        bad = sorted(unsafe.items())
        raise DatasetError(f"{len(bad)} {what} image(s) cannot be read: {describe(bad)}")


def name_unreadable(samples: Sequence[Sample], err: Exception, what: str) -> Exception:
    """For a TensorFlow error raised while reading `samples`: a DatasetError naming the files
    that cannot be read, or `err` itself when every file reads (the error lies elsewhere)."""
    bad = find_bad_images(sorted({s.path for s in samples}), progress=True)
    if not bad:
        return err
    return DatasetError(f"{what} stopped: {len(bad)} image(s) cannot be read: {describe(bad)}")


def split_problems(root: str, fmt: str) -> list[str]:
    """What the split files of a SYSU-MM01, RegDB or LLCM tree get wrong, as training and the
    test protocol read them (one message per problem; empty when all are usable)."""
    if fmt == "sysu":
        checks = [lambda: sysu.train_samples(root), lambda: sysu.test_samples(root)]
        permutations = os.path.join(root, "exp", "rand_perm_cam.mat")
        if os.path.exists(permutations):
            checks.append(lambda: sysu.load_permutations(permutations))
    elif fmt == "llcm":
        checks = [lambda: llcm.train_samples(root)]
        checks += [lambda m=modality: llcm.test_samples(root, m) for modality in (RGB, IR)]
    else:
        checks = [
            lambda t=trial, s=split, m=modality: regdb.split_samples(root, t, s, m)
            for trial in range(1, regdb.NUM_TRIALS + 1)
            for split in regdb.SPLITS
            for modality in regdb.MODALITIES
        ]
    problems = []
    for check in checks:
        try:
            check()
        except DatasetError as err:
            problems.append(str(err))
    return list(dict.fromkeys(problems))  # LLCM's checks all read idx/test_id.txt


def layout_images(root: str, fmt: str) -> dict[str, list[str]]:
    """Every image of a SYSU-MM01 (per camera), RegDB (per modality) or LLCM (per test camera
    folder, and per training list) tree, by folder."""
    require_dir(root, f"{fmt} root")
    if fmt == "sysu":
        groups = [f"cam{c}" for c in range(1, 7)]
    elif fmt == "regdb":
        groups = ["Visible", "Thermal"]
    elif fmt == "llcm":
        return _llcm_images(root)
    else:
        raise ValueError(f"format must be 'sysu', 'regdb' or 'llcm', got {fmt!r}")
    images = {}
    for group in groups:
        group_dir = os.path.join(root, group)
        require_dir(group_dir, f"{fmt} folder")
        images[group] = _person_images(group_dir)
    return images


def _person_images(group_dir: str) -> list[str]:
    """The images in the person folders of one camera or modality folder; a person entry that
    is a dangling symlink or a symlink loop is listed itself, so the bad files report names it."""
    images = []
    for person in sorted(os.listdir(group_dir)):
        folder = os.path.join(group_dir, person)
        if os.path.isdir(folder):
            images += [os.path.join(folder, name) for name in list_images(folder)]
        elif os.path.islink(folder) and not os.path.exists(folder):
            images.append(folder)
    return images


def _llcm_images(root: str) -> dict[str, list[str]]:
    """The test camera folders that exist, then the images each training list names (none
    when the list cannot be read: `split_problems` reports why)."""
    images = {}
    for folder, cameras in llcm.TEST_FOLDERS.values():
        require_dir(os.path.join(root, folder), "llcm folder")
        for camid in cameras:
            group = f"{folder}/cam{camid}"
            if os.path.isdir(os.path.join(root, group)):
                images[group] = _person_images(os.path.join(root, group))
    for modality, name in llcm.TRAIN_LISTS.items():
        try:
            entries = read_list_file(root, llcm.train_list(root, modality), "LLCM training list")
        except DatasetError:
            entries = []
        images[f"idx/{name}"] = [entry.path for entry in entries]
    return images
