"""The file behind `model.pretrained_weights`: ImageNet weights fetched once, or a local file.

`imagenet` means the published ImageNet weights of the backbone's layout
(docs/pretrained_weights.md): keras.applications' ResNet-50 "notop" file for `resnet50` and
`gated_resnet50`; torchvision's IMAGENET1K_V1 checkpoint for `resnet50_torchvision` and
`gated_resnet50_torchvision` and HPILN's networks on it, converted once into the Keras layout
(this needs torch, the `convert` extra). Files are fetched with `keras.utils.get_file` into
the Keras cache (`$KERAS_HOME/models`, by default `~/.keras/models`, where keras.applications
keeps the same file) and reused after. `TFREID_WEIGHTS_MIRROR` replaces the published
locations with a mirror's (an http(s) or file:// URL of a directory holding the files under
their published names). Without network and without the cached file the error names the URL,
the file to place in the cache and `--set model.pretrained_weights=PATH`.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import socket
from dataclasses import dataclass

import keras

from tfreid.config import IMAGENET, ModelConfig
from tfreid.errors import WeightsUnavailable, first_line
from tfreid.models.networks import is_resnet50, resnet50_layout
from tfreid.models.networks.resnet50 import TORCHVISION_LAYOUT

MIRROR_ENV = "TFREID_WEIGHTS_MIRROR"
CACHE_SUBDIR = "models"  # keras.applications' subdirectory of the Keras cache
# A stalled connection fails after this many seconds instead of hanging (urllib waits forever).
TIMEOUT_SECONDS = 30
DOCS = "docs/pretrained_weights.md"


@dataclass(frozen=True)
class Download:
    """A published weights file: its name (also its name in the cache), where it is published,
    its published hash (keras.applications: the file's MD5; torchvision: a prefix of its
    SHA-256, in the file name), and what `model.pretrained_weights` takes instead of it."""

    name: str
    base_url: str
    md5: str | None = None
    sha256_prefix: str | None = None
    instead: str = "a local copy"


KERAS_RESNET50 = Download(
    "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5",
    "https://storage.googleapis.com/tensorflow/keras-applications/resnet/",
    md5="4d473c1dd8becc155b73f8504c6f6626",
)
TORCHVISION_RESNET50 = Download(
    "resnet50-0676ba61.pth",
    "https://download.pytorch.org/models/",
    sha256_prefix="0676ba61",
    instead="a copy converted by tools/convert_weights.py torchvision-resnet50",
)


def origin(download: Download) -> str:
    """Where `download` is fetched from: the published URL, or the mirror's."""
    mirror = os.environ.get(MIRROR_ENV)
    base = mirror.rstrip("/") + "/" if mirror else download.base_url
    return base + download.name


def cache_path(name: str, cache_dir: str | None = None) -> str:
    """Where the cache keeps a file `name`: `cache_dir`/models, by default Keras's cache."""
    return os.path.join(_cache_root(cache_dir), CACHE_SUBDIR, name)


def _cache_root(cache_dir: str | None) -> str:
    """`cache_dir`, else the Keras cache as Keras finds it: $KERAS_HOME or ~/.keras."""
    if cache_dir is None:
        cache_dir = os.environ.get("KERAS_HOME") or os.path.join("~", ".keras")
    return os.path.expanduser(cache_dir)


def fetch(download: Download, cache_dir: str | None = None) -> str:
    """The local path of `download`: the cached file when its hash is right, else fetched
    (with a progress bar) into the cache.

    Raises:
        WeightsUnavailable: it cannot be fetched, or the fetched file fails its hash; the
            message names the URL and where to place the file by hand.
    """
    url = origin(download)
    root = _cache_root(cache_dir)
    # get_file moves to /tmp/.keras when the cache directory is missing; make it, so the file
    # lands where the errors say.
    os.makedirs(root, exist_ok=True)
    try:
        with _socket_timeout(TIMEOUT_SECONDS):
            path = keras.utils.get_file(
                download.name,
                url,
                file_hash=download.md5,
                cache_subdir=CACHE_SUBDIR,
                cache_dir=root,
            )
    except ValueError as err:  # get_file's "Incomplete or corrupted file detected"
        with contextlib.suppress(FileNotFoundError):
            os.remove(cache_path(download.name, cache_dir))
        raise WeightsUnavailable(
            f"{url} did not give the published file ({first_line(err)}); it was removed, "
            f"fetch it again ({DOCS})"
        ) from None
    except Exception as err:  # get_file raises a bare Exception for every URL failure
        reason = first_line(err).rsplit(" -- ", 1)[-1]  # get_file's "failure on URL: n -- why"
        raise WeightsUnavailable(
            f"cannot fetch {url} ({reason}); without network, place that file at "
            f"{cache_path(download.name, cache_dir)} or give {download.instead} with --set "
            f"model.pretrained_weights=PATH ({DOCS})"
        ) from None
    if download.sha256_prefix:
        _check_sha256_prefix(path, download.sha256_prefix, url)
    return path


@contextlib.contextmanager
def _socket_timeout(seconds: float):
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(seconds)
    try:
        yield
    finally:
        socket.setdefaulttimeout(previous)


def _check_sha256_prefix(path: str, prefix: str, url: str) -> None:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    if not digest.hexdigest().startswith(prefix):
        os.remove(path)
        raise WeightsUnavailable(
            f"{path} (from {url}) is not the published file: its SHA-256 {digest.hexdigest()} "
            f"does not start with {prefix}; it was removed, fetch it again"
        )


def weights_file(cfg: ModelConfig, cache_dir: str | None = None) -> str | None:
    """The local weights file `cfg.pretrained_weights` names (None: random weights).

    `imagenet` is fetched (and for the torchvision layout converted) the first time; a path
    must exist.

    Raises:
        WeightsUnavailable: `imagenet` cannot be had here (see `fetch`), or torch is missing
            to convert torchvision's checkpoint.
        FileNotFoundError: a path that does not exist.
    """
    value = cfg.pretrained_weights
    if value is None:
        return None
    if value != IMAGENET:
        if not os.path.isfile(value):
            raise FileNotFoundError(
                f"model.pretrained_weights: no file at {value} ({DOCS} says how to make one)"
            )
        return value
    if resnet50_layout(cfg.backbone) is TORCHVISION_LAYOUT:
        return converted_torchvision_resnet50(cache_dir)
    return fetch(KERAS_RESNET50, cache_dir)


def converted_torchvision_resnet50(cache_dir: str | None = None) -> str:
    """torchvision's ImageNet ResNet-50 in the Keras layout, converted once into the cache.

    Raises:
        WeightsUnavailable: torch is not installed (checked before anything is fetched), or
            the checkpoint cannot be fetched.
    """
    checkpoint = TORCHVISION_RESNET50
    converted = cache_path(os.path.splitext(checkpoint.name)[0] + "_keras.h5", cache_dir)
    if os.path.isfile(converted):
        return converted
    if importlib.util.find_spec("torch") is None:
        raise WeightsUnavailable(
            f"model.pretrained_weights: imagenet on a torchvision backbone is {origin(checkpoint)}"
            f" converted with torch, which is not installed: pip install torch==2.13.0, or "
            f"convert it elsewhere (tools/convert_weights.py torchvision-resnet50 "
            f"{checkpoint.name} OUT.h5) and --set model.pretrained_weights=OUT.h5 ({DOCS})"
        )
    source = fetch(checkpoint, cache_dir)
    from tfreid.models.convert import convert_torchvision_resnet50

    print(f"converting {source} to the Keras layout: {converted}")
    convert_torchvision_resnet50(source, converted)
    return converted


def prepare_start(cfg: ModelConfig) -> None:
    """Makes the weights file of `cfg` ready (fetched, converted) and prints the run's start
    line: a run calls it before it reads or writes any data, so that a missing file costs
    seconds."""
    line = start_line(cfg, weights_file(cfg))
    if line is not None:
        print(line)


def start_line(cfg: ModelConfig, path: str | None) -> str | None:
    """The line a run prints when it starts: the weights file it loads, or that a network
    whose papers start from ImageNet trains from random weights (None for ResNet-6)."""
    if path is not None:
        what = f" ({IMAGENET})" if cfg.pretrained_weights == IMAGENET else ""
        return f"pretrained weights{what}: {path}"
    if cfg.network is None and not is_resnet50(cfg.backbone):
        return None
    start = "a converted torchreid checkpoint" if cfg.network == "mlfn" else IMAGENET
    return (
        f"model: {cfg.network or cfg.backbone} trains from random weights "
        f"(model.pretrained_weights is null; its papers start from ImageNet: {start}, {DOCS})"
    )
