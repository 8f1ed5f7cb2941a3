import h5py
import keras
import numpy as np
import pytest

from tfreid.config import load_config
from tfreid.methods.base_derivative import DERIVATIVE_MODALITIES
from tfreid.models.networks import build_backbone
from tfreid.models.networks.resnet50 import apply_bottleneck_block
from tfreid.models.networks.stages import functional_stage
from tfreid.models.pretrained import (
    CAFFE_MEAN_BGR,
    caffe_stem_to_normalised_rgb,
    load_imagenet_resnet50,
    load_pretrained,
)
from tfreid.models.structures import build_model


def _write_legacy_h5(path, layers, skip=()):
    """Writes `layers` in the keras.applications HDF5 layout, datasets named like Keras 2's."""
    layers = [layer for layer in layers if layer.name not in skip]
    with h5py.File(path, "w") as weights_file:
        weights_file.attrs["layer_names"] = [layer.name.encode("utf8") for layer in layers]
        for layer in layers:
            group = weights_file.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}:0" for weight in layer.weights]
            group.attrs["weight_names"] = [name.encode("utf8") for name in names]
            for name, weight in zip(names, layer.weights, strict=True):
                group.create_dataset(name, data=keras.ops.convert_to_numpy(weight))
    return path


class _Named:
    """A stand-in layer: a name and weights, as `_write_legacy_h5` reads them."""

    def __init__(self, name, weights):
        self.name, self.weights = name, weights


def _strip(layers, prefix):
    """Prefixed layers under their unprefixed names (as a file would store them)."""
    return [_Named(layer.name[len(prefix) :], layer.weights) for layer in layers]


def _randomise_batch_norms(model, seed):
    """Non-trivial BN statistics and biases, so a swapped weight order changes the output."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            size = layer.gamma.shape[0]
            layer.set_weights(
                [
                    rng.uniform(0.5, 1.5, size),
                    rng.normal(0.0, 0.1, size),
                    rng.normal(0.0, 0.1, size),
                    rng.uniform(0.5, 1.5, size),
                ]
            )
        elif isinstance(layer, keras.layers.Conv2D) and layer.use_bias:
            layer.bias.assign(rng.normal(0.0, 0.05, layer.bias.shape))


def _run(stages, x):
    outputs = []
    for stage in stages:
        x = stage(x, training=False)
        outputs.append(keras.ops.convert_to_numpy(x))
    return outputs


def _all_layers(stages):
    return [layer for stage in stages for layer in stage.layers]


@pytest.fixture(scope="module")
def keras_resnet50():
    model = keras.applications.ResNet50(
        weights=None, include_top=False, input_shape=(None, None, 3)
    )
    _randomise_batch_norms(model, seed=1)
    return model


@pytest.fixture(scope="module")
def imagenet_layout_file(keras_resnet50, tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "resnet50_notop.h5"
    return str(_write_legacy_h5(path, keras_resnet50.layers))


def test_resnet50_loads_keras_applications_layout_and_matches(keras_resnet50, imagenet_layout_file):
    x = np.random.default_rng(0).normal(size=(2, 64, 32, 3)).astype("float32")
    stage_ends = ["pool1_pool", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out"]
    stage_ends.append("conv5_block3_out")
    reference = keras.Model(
        keras_resnet50.input, [keras_resnet50.get_layer(name).output for name in stage_ends]
    )
    expected = [keras.ops.convert_to_numpy(y) for y in reference(x, training=False)]

    stages = build_backbone("resnet50", 3, last_stride=2)
    load_pretrained(stages, imagenet_layout_file)
    for ours, theirs in zip(_run(stages, x), expected, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max())

    # A second stream gets the same weights through its prefix.
    ir_stages = build_backbone("resnet50", 3, last_stride=2, prefix="ir_")
    load_pretrained(ir_stages, imagenet_layout_file)
    theirs = expected[-1]
    np.testing.assert_allclose(
        _run(ir_stages, x)[-1], theirs, rtol=1e-4, atol=1e-4 * np.abs(theirs).max()
    )


def _caffe_input(x01):
    """keras.applications' caffe preprocessing of RGB images in [0, 1]: BGR, 0-255, minus means."""
    return (255.0 * x01[..., ::-1] - np.array(CAFFE_MEAN_BGR)).astype("float32")


def test_rewritten_stem_gives_the_network_its_caffe_response_on_normalised_rgb(
    keras_resnet50, imagenet_layout_file
):
    """The whole ImageNet ResNet-50 on caffe input = ours on (x - mean) / std. With mean =
    caffe mean / 255 even the zero padding agrees, so the match is exact to float error."""
    mean, std = np.array(CAFFE_MEAN_BGR[::-1]) / 255.0, np.array([0.2, 0.3, 0.25])
    x01 = np.random.default_rng(3).uniform(size=(2, 64, 32, 3))
    expected = keras.ops.convert_to_numpy(keras_resnet50(_caffe_input(x01), training=False))

    stages = build_backbone("resnet50", 3, last_stride=2)
    load_pretrained(stages, imagenet_layout_file)
    conv1 = stages[0].get_layer("conv1_conv")
    conv1.set_weights(caffe_stem_to_normalised_rgb(*conv1.get_weights(), mean, std))
    ours = _run(stages, ((x01 - mean) / std).astype("float32"))[-1]
    np.testing.assert_allclose(ours, expected, rtol=1e-3, atol=1e-3 * np.abs(expected).max())


def test_rewritten_stem_bias_absorbs_any_mean(keras_resnet50):
    """With the ImageNet mean/std defaults (mean != caffe mean / 255) the rewritten conv
    equals the original one on every output pixel the padding does not reach."""
    kernel, bias = keras_resnet50.get_layer("conv1_conv").get_weights()
    bias = np.random.default_rng(4).normal(0.0, 1.0, bias.shape).astype("float32")
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    x01 = np.random.default_rng(5).uniform(size=(1, 21, 15, 3))

    def conv(images, k, b):
        out = keras.ops.conv(images.astype("float32"), k, strides=2, padding="valid")
        return keras.ops.convert_to_numpy(out) + b

    expected = conv(_caffe_input(x01), kernel, bias)
    ours = conv((x01 - mean) / std, *caffe_stem_to_normalised_rgb(kernel, bias, mean, std))
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
    assert np.abs(expected).max() > 10  # a real signal, not zeros


def test_resnet50_one_channel_conv1_is_a_shape_mismatch(imagenet_layout_file):
    stages = build_backbone("resnet50", 1)
    message = r"conv1_conv.*expected \(7, 7, 1, 64\), found \(7, 7, 3, 64\)"
    with pytest.raises(ValueError, match=message):
        load_pretrained(stages, imagenet_layout_file)


def test_resnet6_round_trip_between_prefixes(tmp_path):
    source = build_backbone("resnet6", 2, prefix="rgb_")
    path = _write_legacy_h5(tmp_path / "resnet6.h5", _strip(_all_layers(source), "rgb_"))
    target = build_backbone("resnet6", 2, prefix="ir_")
    x = np.random.default_rng(0).normal(size=(2, 64, 32, 2)).astype("float32")
    assert not np.allclose(_run(target, x)[-1], _run(source, x)[-1])
    load_pretrained(target, str(path))
    for ours, theirs in zip(_run(target, x), _run(source, x), strict=True):
        np.testing.assert_array_equal(ours, theirs)


def test_missing_file_names_the_path(tmp_path):
    path = str(tmp_path / "absent.h5")
    with pytest.raises(FileNotFoundError, match="absent.h5"):
        load_pretrained(build_backbone("resnet6", 1), path)


def test_missing_layer_names_it_and_assigns_nothing(tmp_path):
    stages = build_backbone("resnet6", 1)
    path = _write_legacy_h5(tmp_path / "partial.h5", _all_layers(stages), skip={"block6_2_bn"})
    target = build_backbone("resnet6", 1)
    before = [keras.ops.convert_to_numpy(w) for w in target[0].weights]
    message = r"'block6_2_bn'.*\(512,\), \(512,\), \(512,\), \(512,\)"
    with pytest.raises(ValueError, match=message):
        load_pretrained(target, str(path))
    for weight, value in zip(target[0].weights, before, strict=True):
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(weight), value)


def test_wrong_number_of_weights_names_the_layer(tmp_path):
    stages = build_backbone("resnet6", 1)
    layers = _all_layers(stages)
    bn = next(layer for layer in layers if layer.name == "conv1_bn")
    layers = [_Named("conv1_bn", bn.weights[:2]) if layer is bn else layer for layer in layers]
    path = _write_legacy_h5(tmp_path / "short.h5", layers)
    with pytest.raises(ValueError, match="'conv1_bn' expects 4 weights"):
        load_pretrained(build_backbone("resnet6", 1), str(path))


def test_keras3_weights_file_is_rejected_with_a_hint(tmp_path):
    stage = build_backbone("resnet6", 1)[0]
    path = str(tmp_path / "stem.weights.h5")
    stage.save_weights(path)
    with pytest.raises(ValueError, match="layer_names.*load_weights"):
        load_pretrained([stage], path)


def test_a_model_not_built_by_build_backbone_is_rejected(imagenet_layout_file):
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3)], name="other")
    with pytest.raises(ValueError, match="'other' is not a stage"):
        load_pretrained([model], imagenet_layout_file)


def test_imagenet_weights_load_into_every_stem_of_the_four_modalities(
    keras_resnet50, imagenet_layout_file
):
    """The base-derivative network: each of the V, I, D_V and D_I stems (prefixes rgb_, ir_,
    rgb_derived_, ir_derived_) gets the ImageNet stem, rewritten for normalised RGB."""
    cfg = load_config(
        None,
        [
            "model.structure=two_stream",
            "model.specific_stages=1",
            "model.last_stride=1",
            "model.head=bnneck",
            f"model.pretrained_weights={imagenet_layout_file}",
            "data.height=64",
            "data.width=32",
        ],
    )
    model = build_model(cfg, num_classes=3, modalities=DERIVATIVE_MODALITIES)
    kernel, bias = keras_resnet50.get_layer("conv1_conv").get_weights()
    expected = caffe_stem_to_normalised_rgb(kernel, bias, cfg.data.mean, cfg.data.std)
    batch_norm = keras_resnet50.get_layer("conv1_bn").get_weights()
    for modality in DERIVATIVE_MODALITIES:
        (stem,) = model.stem(modality)
        conv = stem.get_layer(f"{modality}_conv1_conv").get_weights()
        for ours, theirs in zip(conv, expected, strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6)
        for ours, theirs in zip(stem.get_layer(f"{modality}_conv1_bn").get_weights(), batch_norm):
            np.testing.assert_array_equal(ours, theirs)
    shared = model.shared[-1].get_layer("conv5_block3_3_conv").get_weights()
    for ours, theirs in zip(shared, keras_resnet50.get_layer("conv5_block3_3_conv").get_weights()):
        np.testing.assert_array_equal(ours, theirs)


def test_imagenet_weights_fill_every_prefixed_copy_and_leave_new_layers(
    keras_resnet50, imagenet_layout_file
):
    """load_imagenet_resnet50 finds ResNet-50 layers by the end of their names: a two-stream
    stem ("rgb_"), MGN's branch copies ("global_", "part2_") all get the file's weights (the
    stem rewritten for normalised RGB); a new layer (BDB's bottleneck, "bdb_block_") and a
    modality gate keep their own."""
    cfg = load_config(None, [f"model.pretrained_weights={imagenet_layout_file}"])
    stem = build_backbone("gated_resnet50", 3, prefix="rgb_")[0]

    def blocks(x):
        names = ["global_conv4_block2", "part2_conv4_block2", "bdb_block"]
        return [apply_bottleneck_block(x, 256, conv_shortcut=False, name=n) for n in names]

    copies = functional_stage("copies", 1024, blocks)
    kept = {n: copies.get_layer(n).get_weights() for n in ("bdb_block_1_conv", "bdb_block_3_bn")}
    gate = [w.copy() for w in stem.get_layer("rgb_conv1_gate").get_weights()]
    load_imagenet_resnet50([stem, copies], cfg, imagenet_layout_file)

    for branch in ("global", "part2"):
        for unit in ("1_conv", "2_bn", "3_conv"):
            ours = copies.get_layer(f"{branch}_conv4_block2_{unit}").get_weights()
            theirs = keras_resnet50.get_layer(f"conv4_block2_{unit}").get_weights()
            for a, b in zip(ours, theirs, strict=True):
                np.testing.assert_array_equal(a, b)
    for name, values in kept.items():
        for a, b in zip(copies.get_layer(name).get_weights(), values, strict=True):
            np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(stem.get_layer("rgb_conv1_gate").get_weights()[0], gate[0])
    expected = caffe_stem_to_normalised_rgb(
        *keras_resnet50.get_layer("conv1_conv").get_weights(), cfg.data.mean, cfg.data.std
    )
    for a, b in zip(stem.get_layer("rgb_conv1_conv").get_weights(), expected, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6)
