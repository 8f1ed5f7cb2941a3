"""`model.pretrained_weights: imagenet` fetched with keras.utils.get_file, from file:// origins
only (a mirror through TFREID_WEIGHTS_MIRROR; a directory that does not exist stands in for
no network), and the line a run prints about its start."""

import hashlib
import os

import pytest
from tools_harness import REPO, assert_one_line_error, finish, start

from tfreid.config import load_config
from tfreid.models import imagenet

NAME = "resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5"


def resnet50_imagenet(*overrides):
    return load_config(None, ["model.pretrained_weights=imagenet", *overrides]).model


@pytest.fixture
def mirror(tmp_path, monkeypatch):
    """A mirror directory holding a stand-in notop file, published with its MD5."""
    directory = tmp_path / "mirror"
    directory.mkdir()
    content = os.urandom(4096)
    (directory / NAME).write_bytes(content)
    published = imagenet.Download(NAME, "https://x/", md5=hashlib.md5(content).hexdigest())
    monkeypatch.setattr(imagenet, "KERAS_RESNET50", published)
    monkeypatch.setenv(imagenet.MIRROR_ENV, directory.as_uri())
    return directory, content


def test_fetched_once_into_the_keras_cache_then_reused(mirror, tmp_path):
    directory, content = mirror
    cache = str(tmp_path / "cache")
    path = imagenet.weights_file(resnet50_imagenet(), cache_dir=cache)
    assert path == os.path.join(cache, "models", NAME)
    with open(path, "rb") as f:
        assert f.read() == content
    (directory / NAME).unlink()  # the origin is gone: the cached file serves
    assert imagenet.weights_file(resnet50_imagenet("model.backbone=gated_resnet50"), cache) == path


def test_a_file_failing_its_published_hash_is_an_error(mirror, tmp_path, monkeypatch):
    directory, _ = mirror
    (directory / NAME).write_bytes(b"not the published file")
    with pytest.raises(imagenet.WeightsUnavailable, match=r"did not give the published file"):
        imagenet.weights_file(resnet50_imagenet(), cache_dir=str(tmp_path / "cache"))
    assert not (tmp_path / "cache" / "models" / NAME).exists()


def test_offline_the_error_names_the_url_the_cache_file_and_the_override(tmp_path, monkeypatch):
    absent = (tmp_path / "no-network").as_uri()
    monkeypatch.setenv(imagenet.MIRROR_ENV, absent)
    cache = str(tmp_path / "cache")
    with pytest.raises(imagenet.WeightsUnavailable) as caught:
        imagenet.weights_file(resnet50_imagenet(), cache_dir=cache)
    message = str(caught.value)
    assert f"{absent}/{NAME}" in message
    assert os.path.join(cache, "models", NAME) in message
    assert "--set model.pretrained_weights=PATH" in message
    assert "\n" not in message


def test_the_published_origin_without_a_mirror(monkeypatch):
    monkeypatch.delenv(imagenet.MIRROR_ENV, raising=False)
    assert imagenet.origin(imagenet.KERAS_RESNET50) == (
        "https://storage.googleapis.com/tensorflow/keras-applications/resnet/" + NAME
    )
    assert imagenet.origin(imagenet.TORCHVISION_RESNET50) == (
        "https://download.pytorch.org/models/resnet50-0676ba61.pth"
    )


def test_a_path_is_used_as_it_is_and_must_exist(tmp_path):
    path = tmp_path / "mine.h5"
    path.write_bytes(b"")
    model = load_config(None, [f"model.pretrained_weights={path}"]).model
    assert imagenet.weights_file(model) == str(path)
    missing = load_config(None, [f"model.pretrained_weights={tmp_path / 'absent.h5'}"]).model
    with pytest.raises(FileNotFoundError, match="model.pretrained_weights.*absent.h5"):
        imagenet.weights_file(missing)


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ([], "model: resnet50 trains from random weights"),
        (["model.backbone=gated_resnet50_torchvision"], "gated_resnet50_torchvision trains from"),
        (["model.network=mgn"], "model: mgn trains from random weights"),
        (["model.network=mlfn"], "a converted torchreid checkpoint"),
        (["model.backbone=resnet6"], None),
    ],
)
def test_a_run_from_scratch_says_so_in_one_line(overrides, expected, capsys):
    """ResNet-50-based networks (and MLFN) name their random start; ResNet-6, which ICCV 2017
    trains from scratch, prints nothing."""
    imagenet.prepare_start(load_config(None, overrides).model)
    printed = capsys.readouterr().out
    if expected is None:
        assert printed == ""
    else:
        assert printed.count("\n") == 1 and expected in printed
        assert "model.pretrained_weights is null" in printed


def test_a_run_from_a_file_names_it(mirror, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))  # Keras's cache, as Keras
    imagenet.prepare_start(resnet50_imagenet())
    expected = os.path.join(tmp_path, "keras_home", "models", NAME)
    printed = capsys.readouterr().out  # get_file's "Downloading data from", a progress bar
    assert printed.splitlines()[-1] == f"pretrained weights (imagenet): {expected}"


def test_offline_a_paper_config_stops_before_any_data_is_written(tmp_path):
    """The acceptance run: tools/train.py on HPILN-MGN's config with no network (a mirror that
    does not exist) and an empty Keras cache stops with exit 1 and one line naming the URL,
    the file to place in the cache and the override; the synthetic set it would write, the
    work dir and the data it would read are untouched."""
    mirror = (tmp_path / "no-network").as_uri()
    keras_home = tmp_path / "keras_home"
    env = {**os.environ, imagenet.MIRROR_ENV: mirror, "KERAS_HOME": str(keras_home)}
    synthetic, workdir = tmp_path / "synthetic", tmp_path / "work"
    config = os.path.join(REPO, "yaml_configs", "sysu", "hpiln_mgn.yaml")
    overrides = [f"data.root={synthetic}", "data.synthetic_ids=4"]
    process = start(
        "train", "--config", config, "--workdir", str(workdir), "--set", *overrides, env=env
    )
    result = finish(process)
    checkpoint = "resnet50-0676ba61.pth"
    assert_one_line_error(
        result,
        1,
        f"cannot fetch {mirror}/{checkpoint}",
        os.path.join(str(keras_home), "models", checkpoint),
        "--set model.pretrained_weights=PATH",
    )
    assert not synthetic.exists() and not workdir.exists()
    written = [os.path.join(d, f) for d, _, files in os.walk(tmp_path) for f in files]
    assert written == [str(keras_home / "keras.json")]  # Keras's own settings, at its import
