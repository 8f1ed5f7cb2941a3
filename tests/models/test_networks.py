"""HPILN's five ReID networks: shapes, embedding sizes, parameter counts against the published
(PyTorch) architectures, one training step each, and each network's own rule.

Every network is built once, at 64x32 with 5 classes (a parameter count does not depend on
the image size); the steps run eagerly (tracing MLFN's graph costs more than its step).
"""

import functools
import typing

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf

from tfreid import config
from tfreid.config import ConfigError, ModelConfig, load_config
from tfreid.losses import hard_pentaplet, identity_loss
from tfreid.models import networks
from tfreid.models.networks.bfe import BFEHead
from tfreid.models.structures import build_model

H, W, P, K, C = 64, 32, 2, 2, 5
NETWORKS = ["resmid", "mgn", "pcb_p6", "bfe", "mlfn"]
# (ranking feature sizes, embedding size, logits shape after the batch axis)
SHAPES = {
    "resmid": ([3072], 3072, (C,)),
    "mgn": ([256, 256, 256], 2048, (8, C)),
    "pcb_p6": ([12288], 12288, (6, C)),
    "bfe": ([512, 1024], 1024, (2, C)),
    "mlfn": ([1024], 1024, (C,)),
}


@functools.cache
def built(network):
    keras.utils.set_random_seed(0)
    cfg = load_config(None, [f"model.network={network}", f"data.height={H}", f"data.width={W}"])
    return build_model(cfg, C)


def images(seed, n):
    return tf.constant(np.random.default_rng(seed).normal(size=(n, H, W, 3)), tf.float32)


def as_list(features):
    return features if isinstance(features, list) else [features]


# PyTorch parameter counts of the published architectures (torchvision ResNet-50: no conv
# bias), written from the reference code, not from ours. `bias` puts a bias on every ResNet-50
# conv: keras.applications' layout, which ours keeps so that ImageNet weights load.
def conv_bn(cin, cout, kernel=1, groups=1, bias=False):
    return kernel * kernel * cin // groups * cout + cout * bias + 2 * cout


def linear(cin, cout, bias=True):
    return cin * cout + cout * bias


def bottleneck(cin, planes, downsample, bias):
    total = conv_bn(cin, planes, bias=bias) + conv_bn(planes, planes, 3, bias=bias)
    total += conv_bn(planes, 4 * planes, bias=bias)
    return total + (conv_bn(cin, 4 * planes, bias=bias) if downsample else 0)


def resnet_layer(cin, planes, blocks, bias):
    rest = (blocks - 1) * bottleneck(4 * planes, planes, False, bias)
    return bottleneck(cin, planes, True, bias) + rest


def resnet50(bias):
    stem = conv_bn(3, 64, 7, bias=bias)
    layers = resnet_layer(64, 64, 3, bias) + resnet_layer(256, 128, 4, bias)
    return stem + layers + resnet_layer(512, 256, 6, bias) + resnet_layer(1024, 512, 3, bias)


def mgn(bias):
    trunk = conv_bn(3, 64, 7, bias=bias) + resnet_layer(64, 64, 3, bias)
    trunk += resnet_layer(256, 128, 4, bias) + bottleneck(512, 256, True, bias)
    branch = 5 * bottleneck(1024, 256, False, bias) + resnet_layer(1024, 512, 3, bias)
    return trunk + 3 * branch + 8 * conv_bn(2048, 256) + 8 * linear(256, C)


def mlfn():
    """torchreid's MLFN: 16 blocks (in, out, stride, FSM widths), every MLFN conv bias-free
    except the stem's and the FSM's."""
    specs = [(64, 256, 1, (128, 64))] + [(256, 256, 1, (128, 64))] * 2
    specs += [(256, 512, 2, (256, 128))] + [(512, 512, 1, (256, 128))] * 3
    specs += [(512, 1024, 2, (512, 128))] + [(1024, 1024, 1, (512, 128))] * 5
    specs += [(1024, 2048, 2, (512, 128))] + [(2048, 2048, 1, (512, 128))] * 2
    total = conv_bn(3, 64, 7, bias=True)
    for cin, out, stride, (f0, f1) in specs:
        mid = out // 2
        total += conv_bn(cin, mid) + conv_bn(mid, mid, 3, groups=32) + conv_bn(mid, out)
        total += conv_bn(cin, f0, bias=True) + conv_bn(f0, f1, bias=True)
        total += conv_bn(f1, 32, bias=True)
        total += conv_bn(cin, out) if cin != out or stride > 1 else 0
    return total + conv_bn(2048, 1024) + conv_bn(512, 1024) + linear(1024, C)


def reference_count(network, bias):
    if network == "resmid":
        return resnet50(bias) + linear(4096, 1024) + 2 * 1024 + linear(3072, C)
    if network == "pcb_p6":
        return resnet50(bias) + conv_bn(2048, 256) + 6 * linear(256, C)
    if network == "bfe":
        global_branch = conv_bn(2048, 512, bias=True) + linear(512, C)
        bdb_branch = bottleneck(2048, 512, False, bias) + linear(2048, 1024) + 2 * 1024
        return resnet50(bias) + global_branch + bdb_branch + linear(1024, C)
    return mgn(bias) if network == "mgn" else mlfn()


def test_reference_counts_match_the_published_sizes():
    """torchvision's ResNet-50 without fc (25,557,032 - 2,049,000); torchreid's MODEL_ZOO
    (classifier left out): resnet50 23.5M, resnet50mid 27.7M, mlfn 32.5M."""
    assert resnet50(bias=False) == 23_508_032
    assert round(resnet50(bias=False) / 1e6, 1) == 23.5
    assert round((reference_count("resmid", False) - linear(3072, C)) / 1e6, 1) == 27.7
    assert round((reference_count("mlfn", False) - linear(1024, C)) / 1e6, 1) == 32.5


@pytest.mark.parametrize("network", NETWORKS)
def test_parameter_count_is_the_published_architecture_plus_keras_conv_biases(network):
    trainable = sum(int(np.prod(v.shape)) for v in built(network).trainable_variables)
    assert trainable == reference_count(network, bias=True)
    if network != "mlfn":  # MLFN has no Keras weights to match: PyTorch's biases exactly
        # The difference is one bias per output channel of every ResNet-50 conv: 26,560 in a
        # ResNet-50; MGN's trunk 7,616 + 3 branches x 18,944; BDB's extra bottleneck 3,072.
        biases = reference_count(network, True) - reference_count(network, False)
        assert biases == {"mgn": 7_616 + 3 * 18_944, "bfe": 26_560 + 3_072}.get(network, 26_560)


@pytest.mark.parametrize("network", NETWORKS)
def test_output_shapes_and_embedding_size(network):
    out = built(network)({"rgb": images(0, 3), "ir": images(1, 2)}, training=False)
    sizes, embedding, logits = SHAPES[network]
    assert [tuple(f.shape) for f in as_list(out["features"])] == [(5, d) for d in sizes]
    assert out["embedding"].shape == (5, embedding)
    assert out["logits"].shape == (5, *logits)


@pytest.mark.parametrize("network", NETWORKS)
def test_one_training_step_reaches_every_variable(network):
    """Mean identity loss over the classifiers and HP over the ranking features
    (docs/methods/hpiln.md, A1)."""
    model = built(network)
    labels = tf.constant(np.tile(np.repeat(np.arange(P), K), 2))
    modalities = tf.constant(np.repeat([0, 1], P * K))
    with tf.GradientTape() as tape:
        out = model({"rgb": images(2, P * K), "ir": images(3, P * K)}, training=True)
        identity = identity_loss(labels, out["logits"])
        ranking = [hard_pentaplet(labels, f, modalities, 0.3) for f in as_list(out["features"])]
        loss = tf.reduce_mean(identity) + tf.reduce_mean(tf.add_n(ranking))
    gradients = tape.gradient(loss, model.trainable_variables)
    assert np.isfinite(float(loss))
    silent = [v.path for v, g in zip(model.trainable_variables, gradients) if g is None]
    assert not silent, silent
    before = [v.numpy() for v in model.trainable_variables]
    keras.optimizers.SGD(0.01).apply(gradients, model.trainable_variables)
    moved = [np.abs(v.numpy() - b).max() > 0 for v, b in zip(model.trainable_variables, before)]
    assert all(moved), f"{moved.count(False)} variables did not move"


def test_resmid_embedding_is_the_fusion_and_the_pooled_last_block():
    model = built("resmid")
    x = images(4, 3)
    maps = x
    for stage in model.stages():
        maps = stage(maps, training=False)
    res5a, res5b, res5c = (m.numpy().mean(axis=(1, 2)) for m in maps)
    head = model.head
    fused = head.fusion_bn(head.fusion(np.concatenate([res5a, res5b], 1)), training=False)
    expected = np.concatenate([np.maximum(fused.numpy(), 0.0), res5c], axis=1)
    embedding = model({"rgb": x}, training=False)["embedding"].numpy()
    np.testing.assert_allclose(embedding, expected, rtol=1e-4, atol=1e-5)


def test_pcb_embedding_has_unit_stripes():
    out = built("pcb_p6")({"ir": images(5, 3)}, training=False)
    norms = np.linalg.norm(out["embedding"].numpy().reshape(3, 6, 2048), axis=2)
    np.testing.assert_allclose(norms, 1.0, rtol=1e-5)
    np.testing.assert_array_equal(out["features"], out["embedding"])


def test_mgn_ranking_features_are_the_three_reduced_global_features():
    out = built("mgn")({"rgb": images(6, 2)}, training=False)
    np.testing.assert_array_equal(np.concatenate(out["features"], 1), out["embedding"][:, :768])


def test_mlfn_scales_each_group_by_its_factor_selection_weight():
    """Block 1's grouped conv (128 channels in 32 groups of 4): channels 4g..4g+3 are scaled
    by the g-th FSM output, as torchreid's repeat + permute does."""
    trunk = built("mlfn").stages()[0]
    names = ["block1_fm2_relu", "block1_fsm2_sigmoid", "block1_select"]
    probe = keras.Model(trunk.input, [trunk.get_layer(n).output for n in names])
    grouped, selection, selected = (t.numpy() for t in probe(images(7, 2), training=False))
    assert selection.shape == (2, 32) and ((selection >= 0) & (selection <= 1)).all()
    expected = grouped * np.repeat(selection, 4, axis=1)[:, None, None, :]
    np.testing.assert_allclose(selected, expected, rtol=1e-6, atol=1e-30)  # denormals flushed


def test_bfe_drops_a_band_in_training_only():
    model = built("bfe")
    x = {"rgb": images(8, 2), "ir": images(9, 2)}
    first, second = (model(x, training=False)["embedding"].numpy() for _ in range(2))
    np.testing.assert_array_equal(first, second)
    erased = model.head.drop(tf.ones((2, H // 16, W // 16, 1)), training=True).numpy()
    assert (erased == 0).sum() == 2 * int(0.33 * H // 16) * (W // 16)


def test_bfe_concat_embedding_is_the_public_code_s_1536():
    head = BFEHead(C, embedding="concat", seed=0)
    out = head([tf.random.normal((3, 4, 2, 2048)), tf.zeros(3, tf.int32)], training=False)
    assert out["embedding"].shape == (3, 1536)
    np.testing.assert_array_equal(out["embedding"], np.concatenate(out["features"], axis=1))


def test_mlfn_loads_a_legacy_file_of_its_trunk_and_fc_layers(tmp_path):
    """`model.pretrained_weights` of MLFN is a legacy Keras HDF5 file of its trunk and of the
    head layers torchreid's ImageNet checkpoint holds (fc_x, fc_s and their batch norms), as
    tools/convert_weights.py writes it; with the ImageNet mean / std defaults the stem is
    taken as it is."""
    source = built("mlfn")
    layers = [layer for layer in source.stages()[0].layers if layer.weights]
    layers += [getattr(source.head, name) for name in ("fc_x", "fc_x_bn", "fc_s", "fc_s_bn")]
    path = str(tmp_path / "mlfn.h5")
    with h5py.File(path, "w") as weights_file:
        weights_file.attrs["layer_names"] = [layer.name.encode() for layer in layers]
        for layer in layers:
            group = weights_file.create_group(layer.name)
            names = [f"{index}" for index in range(len(layer.weights))]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, value in zip(names, layer.get_weights(), strict=True):
                group.create_dataset(name, data=value)
    overrides = ["model.network=mlfn", f"data.height={H}", f"data.width={W}"]
    cfg = load_config(None, [*overrides, f"model.pretrained_weights={path}"])
    keras.utils.set_random_seed(1)
    loaded = build_model(cfg, C)
    pairs = list(zip(loaded.stages()[0].weights, source.stages()[0].weights, strict=True))
    pairs += list(zip(loaded.head.fc_s_bn.weights, source.head.fc_s_bn.weights, strict=True))
    for ours, theirs in pairs:
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    assert not np.array_equal(loaded.head.classifier.kernel, source.head.classifier.kernel)


@pytest.mark.parametrize("network", ["resmid", "mgn", "bfe"])
def test_torchvision_layout_is_the_published_architecture_exactly(network):
    """With `model.backbone: resnet50_torchvision` (no conv biases, as the PyTorch code) the
    parameter count is the published network's, BDB's extra bottleneck included."""
    overrides = [f"model.network={network}", "model.backbone=resnet50_torchvision"]
    model = build_model(load_config(None, [*overrides, f"data.height={H}", f"data.width={W}"]), C)
    trainable = sum(int(np.prod(v.shape)) for v in model.trainable_variables)
    assert trainable == reference_count(network, bias=False)


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.network=mgn", "model.backbone=resnet6"], "model.backbone: mgn.*resnet6"),
        (["model.network=bfe", "model.backbone=gated_resnet50"], "model.backbone: bfe"),
        (["model.network=mlfn", "model.backbone=resnet50_torchvision"], "MLFN builds its own"),
        (["model.network=mlfn", "model.pretrained_weights=imagenet"], "torchreid-mlfn"),
    ],
)
def test_backbones_a_network_cannot_take_are_refused(overrides, message):
    with pytest.raises(ConfigError, match=message):
        load_config(None, overrides)


def test_networks_are_one_stream():
    with pytest.raises(ConfigError, match="model.structure.*one-stream"):
        load_config(None, ["model.network=mgn", "model.structure=two_stream"])


def config_names(key: str) -> set[str]:
    """The names the `model` section's `key` accepts (its Literal; None left out)."""
    annotation = typing.get_type_hints(ModelConfig)[key]
    literals = [a for a in typing.get_args(annotation) if typing.get_origin(a) is typing.Literal]
    return set(typing.get_args(annotation) if not literals else typing.get_args(literals[0]))


def test_the_registry_builds_exactly_the_names_the_config_accepts():
    """Adding a network is a module, its registry line and its config name: the three agree,
    and this file tests every network."""
    assert config_names("backbone") == set(networks.BACKBONES)
    assert config_names("network") == set(networks.NETWORKS) == set(NETWORKS)
    with pytest.raises(ValueError, match="Unknown backbone 'resnet18'"):
        networks.build_backbone("resnet18", 3)


def test_the_config_knows_each_backbones_stages_and_what_each_network_reads():
    """The config checks `model.specific_stages` and the knobs a network ignores without
    TensorFlow, from its own tables: they agree with the registry."""
    assert config.BACKBONE_STAGES == {
        name: networks.num_stages(name) for name in networks.BACKBONES
    }
    readers = {r for names in config.KNOB_READERS.values() for r in names} - {None}
    assert readers <= set(networks.NETWORKS)
    assert set(config.KNOB_READERS) < set(typing.get_type_hints(ModelConfig))
