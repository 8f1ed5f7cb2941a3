"""PyTorch checkpoints converted by tools/convert_weights.py give the PyTorch network's maps.

Networks of random weights and random BN statistics (tests/models/torch_networks.py, written
in torchvision's and torchreid's layouts with their key names) against ours after the
conversion, in inference mode on the same normalised images: every stage to 1e-4 of its
scale. Also torchvision's ImageNet start through `model.pretrained_weights: imagenet` (a
file:// mirror; never the network) and the stem rewritten for other data.mean / data.std.
"""

import hashlib
import os
import shutil

import keras
import numpy as np
import pytest
from tools_harness import assert_one_line_error, run_all

torch = pytest.importorskip("torch")

from torch_networks import TorchreidMLFN, TorchvisionResNet50, randomise  # noqa: E402

from tfreid.config import IMAGENET_MEAN, IMAGENET_STD, load_config  # noqa: E402
from tfreid.models import convert, imagenet  # noqa: E402
from tfreid.models.networks import build_backbone  # noqa: E402
from tfreid.models.pretrained import load_imagenet_resnet50, load_pretrained  # noqa: E402
from tfreid.models.structures import build_model  # noqa: E402

H, W = 64, 32


def normalised_images(seed, mean=IMAGENET_MEAN, std=IMAGENET_STD, batch=2):
    """(RGB in [0, 1], the same normalised) as NHWC float32."""
    x01 = np.random.default_rng(seed).uniform(size=(batch, H, W, 3))
    return x01, ((x01 - np.array(mean)) / np.array(std)).astype("float32")


def torch_maps(network, nhwc):
    with torch.no_grad():
        outputs = network(torch.from_numpy(nhwc.transpose(0, 3, 1, 2).copy()))
    return [o.numpy().transpose(0, 2, 3, 1) if o.ndim == 4 else o.numpy() for o in outputs]


def keras_maps(stages, x):
    maps = []
    for stage in stages:
        x = stage(x, training=False)
        maps.append(keras.ops.convert_to_numpy(x))
    return maps


def assert_close_to_scale(ours, theirs, name=""):
    scale = np.abs(theirs).max()
    assert scale > 1e-3, f"{name}: a map of zeros compares nothing"
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-4 * scale, err_msg=name)


@pytest.fixture(scope="module")
def torchvision_net():
    torch.manual_seed(0)
    return randomise(TorchvisionResNet50(), seed=1)


@pytest.fixture(scope="module")
def torchvision_checkpoint(torchvision_net, tmp_path_factory):
    path = tmp_path_factory.mktemp("torch") / "resnet50_random.pth"
    torch.save(torchvision_net.state_dict(), path)
    return str(path)


@pytest.fixture(scope="module")
def converted_resnet50(torchvision_checkpoint, tmp_path_factory):
    """The tool's output for the random torchvision checkpoint (the tool run as a user does)."""
    target = str(tmp_path_factory.mktemp("keras") / "resnet50_torchvision.h5")
    (result,) = run_all(("convert_weights", "torchvision-resnet50", torchvision_checkpoint, target))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "106 layers" in result.stdout  # 53 convs and their batch norms
    return target


def test_torchvision_resnet50_converts_to_the_same_network(torchvision_net, converted_resnet50):
    """layer4 (and every stage before it) of the converted network equals torch's."""
    stages = build_backbone("resnet50_torchvision", 3)
    load_pretrained(stages, converted_resnet50)
    _, x = normalised_images(seed=2)
    names = ["stem", "layer1", "layer2", "layer3", "layer4"]
    for name, ours, theirs in zip(
        names, keras_maps(stages, x), torch_maps(torchvision_net, x), strict=True
    ):
        assert ours.shape == theirs.shape, name
        assert_close_to_scale(ours, theirs, name)


def test_the_keras_layout_is_not_the_torchvision_one(converted_resnet50):
    """keras.applications' layout has conv biases: the converted file refuses to load, naming
    the layouts."""
    cfg = load_config(None, ["model.backbone=resnet50"])
    with pytest.raises(ValueError, match="conv1_conv.*resnet50_torchvision"):
        load_imagenet_resnet50(build_backbone("resnet50", 3)[:1], cfg, converted_resnet50)


def test_stem_is_rewritten_for_other_mean_and_std(torchvision_net, converted_resnet50):
    """Ours on (x - mean) / std = torch on (x - ImageNet mean) / ImageNet std. With the ImageNet
    mean even the zero padding agrees, so the whole network matches; with another mean the
    stem's response matches wherever the padding does not reach."""
    std = [0.3, 0.2, 0.25]
    cfg = load_config(None, ["model.backbone=resnet50_torchvision", f"data.std={std}"])
    stages = build_backbone("resnet50_torchvision", 3)
    load_imagenet_resnet50(stages, cfg, converted_resnet50)
    x01, theirs_in = normalised_images(seed=3)
    ours_in = ((x01 - np.array(IMAGENET_MEAN)) / np.array(std)).astype("float32")
    expected = torch_maps(torchvision_net, theirs_in)[-1]
    assert_close_to_scale(keras_maps(stages, ours_in)[-1], expected)

    mean = [0.4, 0.5, 0.3]
    cfg = load_config(None, ["model.backbone=resnet50_torchvision", f"data.mean={mean}"])
    stages = build_backbone("resnet50_torchvision", 3)
    load_imagenet_resnet50(stages, cfg, converted_resnet50)
    ours_in = ((x01 - np.array(mean)) / np.array(IMAGENET_STD)).astype("float32")
    stem = stages[0]
    probe = keras.Model(stem.input, stem.get_layer("conv1_bn").output)
    ours = keras.ops.convert_to_numpy(probe(ours_in, training=False))
    with torch.no_grad():
        tensor = torch.from_numpy(theirs_in.transpose(0, 3, 1, 2).copy())
        theirs = torchvision_net.bn1(torchvision_net.conv1(tensor)).numpy().transpose(0, 2, 3, 1)
    inner = (slice(None), slice(2, -2), slice(2, -2))  # 7x7/2 padded 3: rows 0-1 see padding
    assert_close_to_scale(ours[inner], theirs[inner])
    assert not np.allclose(ours[:, 0], theirs[:, 0], atol=1e-3)  # the padding does differ


def test_imagenet_on_a_torchvision_backbone_fetches_and_converts_once(
    torchvision_checkpoint, torchvision_net, tmp_path, monkeypatch
):
    """`imagenet` with resnet50_torchvision: torchvision's checkpoint fetched from the mirror,
    checked against its published SHA-256 prefix, converted into the cache once; with the
    mirror gone the converted file is reused."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    shutil.copy(torchvision_checkpoint, mirror / "resnet50-random.pth")
    digest = hashlib.sha256((mirror / "resnet50-random.pth").read_bytes()).hexdigest()
    published = imagenet.Download("resnet50-random.pth", "https://x/", sha256_prefix=digest[:8])
    monkeypatch.setattr(imagenet, "TORCHVISION_RESNET50", published)
    monkeypatch.setenv(imagenet.MIRROR_ENV, mirror.as_uri())
    cfg = load_config(
        None, ["model.backbone=resnet50_torchvision", "model.pretrained_weights=imagenet"]
    )
    cache = str(tmp_path / "cache")
    path = imagenet.weights_file(cfg.model, cache_dir=cache)
    assert path == os.path.join(cache, "models", "resnet50-random_keras.h5")
    shutil.rmtree(mirror)
    assert imagenet.weights_file(cfg.model, cache_dir=cache) == path
    stages = build_backbone("resnet50_torchvision", 3)
    load_pretrained(stages, path)
    _, x = normalised_images(seed=4)
    assert_close_to_scale(keras_maps(stages, x)[-1], torch_maps(torchvision_net, x)[-1])


def test_a_checkpoint_failing_its_published_hash_is_removed(
    torchvision_checkpoint, tmp_path, monkeypatch
):
    shutil.copy(torchvision_checkpoint, tmp_path / "resnet50-random.pth")
    published = imagenet.Download("resnet50-random.pth", "https://unused/", sha256_prefix="0000")
    monkeypatch.setattr(imagenet, "TORCHVISION_RESNET50", published)
    monkeypatch.setenv(imagenet.MIRROR_ENV, tmp_path.as_uri())
    cache = tmp_path / "cache"
    with pytest.raises(imagenet.WeightsUnavailable, match="does not start with 0000"):
        imagenet.converted_torchvision_resnet50(str(cache))
    assert not (cache / "models" / "resnet50-random.pth").exists()


def test_torchreid_mlfn_converts_into_the_hpiln_network(tmp_path):
    """torchreid's MLFN checkpoint (a {"state_dict": ...} file) -> `model.pretrained_weights`
    of `model.network: mlfn`: the trunk's final map, the FSM outputs S and the embedding v
    (fc_x, fc_s loaded too, as torchreid loads them) equal torch's."""
    torch.manual_seed(5)
    network = randomise(TorchreidMLFN(), seed=6)
    source, target = tmp_path / "mlfn.pth.tar", str(tmp_path / "mlfn.h5")
    torch.save({"state_dict": network.state_dict(), "epoch": 5}, source)
    count = convert.convert_torchreid_mlfn(str(source), target)
    # stem; per block 3 factor-module and 3 FSM conv + BN units; 4 downsamples; fc_x, fc_s
    assert count == 2 + 16 * 12 + 4 * 2 + 4
    cfg = load_config(
        None,
        ["model.network=mlfn", f"model.pretrained_weights={target}", f"data.height={H}"]
        + [f"data.width={W}"],
    )
    model = build_model(cfg, num_classes=3)
    _, x = normalised_images(seed=7)
    trunk_outputs = model.stages()[0](x, training=False)
    final_map, selections = (keras.ops.convert_to_numpy(t) for t in trunk_outputs)
    embedding = keras.ops.convert_to_numpy(model({"rgb": x}, training=False)["embedding"])
    theirs = torch_maps(network, x)
    for name, ours, expected in zip(
        ["map", "S", "v"], [final_map, selections, embedding], theirs, strict=True
    ):
        assert_close_to_scale(ours, expected, name)


def test_keys_of_another_network_are_named(torchvision_net, tmp_path):
    state = dict(torchvision_net.state_dict())
    del state["layer3.2.bn1.running_var"]
    state["layer5.0.conv1.weight"] = torch.zeros(1)
    path = tmp_path / "other.pth"
    torch.save(state, path)
    message = r"1 missing keys \(layer3\.2\.bn1\.running_var\); 1 unknown keys \(layer5\.0"
    with pytest.raises(ValueError, match=message):
        convert.convert_torchvision_resnet50(str(path), str(tmp_path / "out.h5"))
    assert not (tmp_path / "out.h5").exists()


def test_without_torch_the_error_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "torch", None)
    with pytest.raises(convert.TorchMissing, match=r"pip install torch==2\.13\.0"):
        convert.read_state_dict(str(tmp_path / "any.pth"))
    monkeypatch.setenv(imagenet.MIRROR_ENV, (tmp_path / "absent").as_uri())
    cfg = load_config(
        None, ["model.backbone=resnet50_torchvision", "model.pretrained_weights=imagenet"]
    )
    with pytest.raises(imagenet.WeightsUnavailable, match="torch.*not installed.*convert_weights"):
        imagenet.weights_file(cfg.model, cache_dir=str(tmp_path / "cache"))


def test_the_tool_refuses_to_replace_a_file_and_names_a_missing_checkpoint(
    torchvision_checkpoint, tmp_path
):
    existing = tmp_path / "existing.h5"
    existing.write_text("mine")
    absent = str(tmp_path / "absent.pth")
    replace, missing = run_all(
        ("convert_weights", "torchvision-resnet50", torchvision_checkpoint, str(existing)),
        ("convert_weights", "torchreid-mlfn", absent, str(tmp_path / "out.h5")),
    )
    assert_one_line_error(replace, 2, str(existing), "--overwrite")
    assert existing.read_text() == "mine"
    assert_one_line_error(missing, 1, absent)
