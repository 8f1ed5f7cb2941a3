import keras
import numpy as np
import pytest
import tensorflow as tf

from tfreid.models.networks import (
    build_backbone,
    feature_channels,
    num_stages,
    stage_prefix,
)


def _run_stages(stages, x):
    outputs = []
    for stage in stages:
        x = stage(x, training=False)
        outputs.append(tuple(x.shape))
    return outputs


def _images(batch, height, width, channels, seed=0):
    return (
        np.random.default_rng(seed).normal(size=(batch, height, width, channels)).astype("float32")
    )


@pytest.fixture(scope="module")
def keras_resnet50():
    return keras.applications.ResNet50(weights=None, include_top=False, input_shape=(None, None, 3))


@pytest.mark.parametrize("last_stride", [1, 2])
def test_resnet6_stage_shapes(last_stride):
    stages = build_backbone("resnet6", 1, last_stride=last_stride)
    shapes = _run_stages(stages, _images(2, 64, 32, 1))
    # stem /2, blocks 1-2 stride 1, blocks 3-5 stride 2, block6 `last_stride`.
    last = (4, 2) if last_stride == 1 else (2, 1)
    assert shapes == [
        (2, 32, 16, 16),
        (2, 32, 16, 16),
        (2, 32, 16, 16),
        (2, 16, 8, 64),
        (2, 8, 4, 128),
        (2, 4, 2, 256),
        (2, *last, 512),
    ]
    assert len(stages) == num_stages("resnet6") == 7
    assert shapes[-1][-1] == feature_channels("resnet6")


def _resnet6_reference_params(input_channels):
    """Parameter count of ResNet-6 as specified: bias-free convs, 4 values per BN channel."""
    total = 7 * 7 * input_channels * 16 + 4 * 16
    strides = [1, 1, 2, 2, 2, 2]
    channels = 16
    for filters, stride in zip([16, 16, 64, 128, 256, 512], strides, strict=True):
        total += 9 * channels * filters + 9 * filters * filters + 2 * 4 * filters
        if stride != 1 or channels != filters:
            total += channels * filters + 4 * filters
        channels = filters
    return total


@pytest.mark.parametrize("input_channels", [1, 2, 3])
def test_resnet6_parameter_count(input_channels):
    stages = build_backbone("resnet6", input_channels)
    assert sum(stage.count_params() for stage in stages) == _resnet6_reference_params(
        input_channels
    )
    assert stages[0].get_layer("conv1_conv").kernel.shape == (7, 7, input_channels, 16)


@pytest.mark.parametrize("last_stride", [1, 2])
def test_resnet50_stage_shapes_and_output_stride(last_stride):
    stages = build_backbone("resnet50", 3, last_stride=last_stride)
    shapes = _run_stages(stages, _images(2, 64, 32, 3))
    output_stride = 16 if last_stride == 1 else 32
    assert shapes == [
        (2, 16, 8, 64),
        (2, 16, 8, 256),
        (2, 8, 4, 512),
        (2, 4, 2, 1024),
        (2, 64 // output_stride, 32 // output_stride, 2048),
    ]
    assert len(stages) == num_stages("resnet50") == 5
    assert shapes[-1][-1] == feature_channels("resnet50")


def _named_layers(layers):
    return [layer for layer in layers if not isinstance(layer, keras.layers.InputLayer)]


def _conv_and_bn_config(layer):
    config = layer.get_config()
    config.pop("name")
    config.pop("trainable", None)
    config.pop("synchronized", None)  # ours syncs across replicas; same maths on one device
    if "axis" in config:  # channels axis of a 4-D map: keras.applications says 3, we say -1
        config["axis"] = config["axis"] % 4
    return config


def test_resnet50_names_params_and_configs_equal_keras_applications(keras_resnet50):
    stages = build_backbone("resnet50", 3, last_stride=2)
    ours = [layer for stage in stages for layer in _named_layers(stage.layers)]
    theirs = _named_layers(keras_resnet50.layers)
    assert [layer.name for layer in ours] == [layer.name for layer in theirs]
    assert sum(stage.count_params() for stage in stages) == keras_resnet50.count_params()
    for our_layer, their_layer in zip(ours, theirs, strict=True):
        # Our batch norm is Keras's with TensorFlow's fused kernel (tfreid.layers.batch_norm).
        assert isinstance(our_layer, type(their_layer)), our_layer.name
        assert _conv_and_bn_config(our_layer) == _conv_and_bn_config(their_layer), our_layer.name


def test_resnet50_last_stride_one_changes_only_conv5_block1_strides(keras_resnet50):
    stages = build_backbone("resnet50", 3, last_stride=1)
    changed = set()
    for stage in stages:
        for layer in _named_layers(stage.layers):
            if isinstance(layer, keras.layers.Conv2D):
                their = keras_resnet50.get_layer(layer.name)
                if layer.strides != their.strides:
                    assert layer.strides == (1, 1) and their.strides == (2, 2)
                    changed.add(layer.name)
    assert changed == {"conv5_block1_0_conv", "conv5_block1_1_conv"}


def _convs_and_norms(stages):
    return {
        layer.name: layer
        for stage in stages
        for layer in stage.layers
        if isinstance(layer, (keras.layers.Conv2D, keras.layers.BatchNormalization))
    }


def test_torchvision_layout_strides_in_the_3x3_conv_without_biases():
    """resnet50_torchvision: keras.applications' layer names; stride 2 in conv{3,4,5}_block1's
    3x3 conv, padded 1 on every side, and in the projections; no conv bias; BN epsilon 1e-5;
    torchvision's 23,508,032 parameters without its classifier."""
    keras_layout = _convs_and_norms(build_backbone("resnet50", 3))
    stages = build_backbone("resnet50_torchvision", 3)
    ours = _convs_and_norms(stages)
    assert sorted(ours) == sorted(keras_layout)
    strided = {name for name, layer in ours.items() if getattr(layer, "strides", (1, 1)) != (1, 1)}
    expected = {"conv1_conv"} | {f"conv{s}_block1_{u}_conv" for s in (3, 4, 5) for u in (0, 2)}
    assert strided == expected
    assert not any(layer.use_bias for layer in ours.values() if hasattr(layer, "use_bias"))
    norms = [layer for layer in ours.values() if isinstance(layer, keras.layers.BatchNormalization)]
    assert {layer.epsilon for layer in norms} == {1e-5}
    for stage in (3, 4, 5):
        padding = stages[stage - 1].get_layer(f"conv{stage}_block1_2_pad")
        assert padding.padding == ((1, 1), (1, 1))
        assert stages[stage - 1].get_layer(f"conv{stage}_block1_2_conv").padding == "valid"
    trainable = sum(int(np.prod(v.shape)) for stage in stages for v in stage.trainable_weights)
    assert trainable == 23_508_032
    assert [tuple(s) for s in _run_stages(stages, _images(2, 65, 33, 3))] == [
        (2, 17, 9, 64),
        (2, 17, 9, 256),
        (2, 9, 5, 512),
        (2, 5, 3, 1024),
        (2, 3, 2, 2048),
    ]


@pytest.mark.parametrize("input_channels", [1, 2])
def test_resnet50_builds_with_one_and_two_channels(input_channels):
    stages = build_backbone("resnet50", input_channels)
    assert stages[0].get_layer("conv1_conv").kernel.shape == (7, 7, input_channels, 64)
    stem_output = stages[0](_images(2, 64, 32, input_channels), training=False)
    assert stem_output.shape == (2, 16, 8, 64)


def test_prefix_duplication_gives_independent_weights():
    rgb = build_backbone("resnet6", 1, prefix="rgb_")
    ir = build_backbone("resnet6", 1, prefix="ir_")
    assert [stage_prefix(stage) for stage in rgb + ir] == ["rgb_"] * 7 + ["ir_"] * 7
    assert all(layer.name.startswith("rgb_") for stage in rgb for layer in stage.layers)
    rgb_ids = {id(v) for stage in rgb for v in stage.weights}
    assert rgb_ids.isdisjoint(id(v) for stage in ir for v in stage.weights)

    x = _images(2, 64, 32, 1)
    ir_before = ir[0](x, training=False).numpy()
    rgb[0].set_weights([np.zeros(w.shape, "float32") for w in rgb[0].weights])
    np.testing.assert_array_equal(ir[0](x, training=False).numpy(), ir_before)
    assert not np.allclose(rgb[0](x, training=False).numpy(), ir_before)

    # Two-stream (ICCV 2017): stages 0-2 per modality, stages 3-6 shared, in one Keras model.
    rgb_input = keras.Input((64, 32, 1), name="rgb")
    ir_input = keras.Input((64, 32, 1), name="ir")
    rgb_x, ir_x = rgb_input, ir_input
    for rgb_stage, ir_stage in zip(rgb[:3], ir[:3], strict=True):
        rgb_x, ir_x = rgb_stage(rgb_x), ir_stage(ir_x)
    for shared in rgb[3:]:
        rgb_x, ir_x = shared(rgb_x), shared(ir_x)
    model = keras.Model([rgb_input, ir_input], [rgb_x, ir_x])
    specific = sum(stage.count_params() for stage in rgb[:3])
    shared = sum(stage.count_params() for stage in rgb[3:])
    assert model.count_params() == 2 * specific + shared


def test_resnet50_trains_at_full_size_with_last_stride_one():
    stages = build_backbone("resnet50", 3, last_stride=1)
    x = _images(2, 288, 144, 3)
    variables = [v for stage in stages for v in stage.trainable_variables]
    with tf.GradientTape() as tape:
        features = x
        for stage in stages:
            features = stage(features, training=True)
        loss = tf.reduce_mean(tf.square(features))
    gradients = tape.gradient(loss, variables)
    assert features.shape == (2, 18, 9, 2048)
    assert all(g is not None for g in gradients)
    assert all(np.isfinite(g.numpy()).all() for g in gradients)
    assert np.abs(gradients[0].numpy()).sum() > 0  # reaches the stem through all stages


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"name": "resnet18", "input_channels": 3}, "resnet18"),
        ({"name": "resnet6", "input_channels": 0}, "input_channels"),
        ({"name": "resnet6", "input_channels": 3, "last_stride": 3}, "last_stride"),
    ],
)
def test_bad_arguments_raise(kwargs, message):
    with pytest.raises(ValueError, match=message):
        build_backbone(**kwargs)


def test_unknown_name_in_helpers_raises():
    with pytest.raises(ValueError, match="resnet18"):
        feature_channels("resnet18")
    with pytest.raises(ValueError, match="resnet18"):
        num_stages("resnet18")
