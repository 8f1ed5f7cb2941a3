"""TS-GAN networks: CycleGAN generator and PatchGAN, AlignGAN's joint discriminator."""

import json

import keras
import numpy as np
import pytest
import tensorflow as tf

from tfreid.models.gan import (
    apply_conv_block,
    apply_upsample_block,
    build_joint_discriminator,
    build_patch_discriminator,
    build_resnet_generator,
)

# Published PyTorch counts (CycleGAN, instance norm, conv bias on): `resnet_9blocks` and
# `NLayerDiscriminator(n_layers=3)` at 3 channels, width 64.
CYCLEGAN_GENERATOR_PARAMS = 11_378_179
CYCLEGAN_PATCHGAN_PARAMS = 2_764_737


def _images(batch, height, width, channels=3, seed=0):
    return (
        np.random.default_rng(seed).normal(size=(batch, height, width, channels)).astype("float32")
    )


def _conv_params(kernel_size, inputs, filters, bias=True):
    return kernel_size * kernel_size * inputs * filters + (filters if bias else 0)


def _generator_params(blocks, filters, channels):
    """Instance norm has no parameters, so the count is the convs': weights + biases."""
    f = filters
    return (
        _conv_params(7, channels, f)
        + _conv_params(3, f, 2 * f)
        + _conv_params(3, 2 * f, 4 * f)
        + blocks * 2 * _conv_params(3, 4 * f, 4 * f)
        + _conv_params(3, 4 * f, 2 * f)
        + _conv_params(3, 2 * f, f)
        + _conv_params(7, f, channels)
    )


def _patch_params(filters, n_layers, channels):
    total = _conv_params(4, channels, filters)
    width = filters
    for index in range(1, n_layers + 1):
        total += _conv_params(4, width, filters * min(2**index, 8))
        width = filters * min(2**index, 8)
    return total + _conv_params(4, width, 1)


def _joint_params(feature_channels, filters, channels):
    f = filters
    image_path = (
        _conv_params(4, channels, f) + _conv_params(4, f, 2 * f) + _conv_params(4, 2 * f, 4 * f)
    )
    feature_path = _conv_params(1, feature_channels, f)
    joint = _conv_params(4, 5 * f, 8 * f) + _conv_params(4, 8 * f, 16 * f)
    return image_path + feature_path + joint + _conv_params(3, 16 * f, 1, bias=False)


@pytest.fixture(scope="module")
def full_size_networks():
    """Default widths, built once: CycleGAN's generator and PatchGAN, D_I on layer3 maps."""
    return build_resnet_generator(), build_patch_discriminator(), build_joint_discriminator()


def test_parameter_counts_equal_cyclegan_and_the_formulas(full_size_networks):
    generator, patch, joint = full_size_networks
    assert _generator_params(9, 64, 3) == CYCLEGAN_GENERATOR_PARAMS
    assert _patch_params(64, 3, 3) == CYCLEGAN_PATCHGAN_PARAMS
    assert generator.count_params() == CYCLEGAN_GENERATOR_PARAMS
    assert patch.count_params() == CYCLEGAN_PATCHGAN_PARAMS
    assert joint.count_params() == _joint_params(1024, 64, 3) == 11_745_280
    # Only trainable weights: the instance norms add none.
    for model in full_size_networks:
        assert not model.non_trainable_weights


def test_full_size_shapes(full_size_networks):
    """256 x 128 images; the student's layer3 map is 16 x 8 x 1024 (stride 16)."""
    generator, patch, joint = full_size_networks
    images = _images(1, 256, 128)
    assert generator(images).shape == (1, 256, 128, 3)
    assert patch(images).shape == (1, 30, 14, 1)
    assert joint([images, _images(1, 16, 8, 1024)]).shape == (1, 8, 4, 1)
    assert joint.get_layer("joint_discriminator_feature_resize").output.shape[1:] == (
        None,
        None,
        64,
    )


@pytest.mark.parametrize("blocks, filters", [(0, 2), (1, 4), (3, 2)])
def test_tiny_parameter_counts(blocks, filters):
    generator = build_resnet_generator(blocks=blocks, filters=filters, channels=1)
    assert generator.count_params() == _generator_params(blocks, filters, 1)
    adds = [layer for layer in generator.layers if layer.name.endswith("_add")]
    assert len(adds) == blocks
    patch = build_patch_discriminator(filters=filters, n_layers=blocks + 1)
    assert patch.count_params() == _patch_params(filters, blocks + 1, 3)
    joint = build_joint_discriminator(feature_channels=8, filters=filters)
    assert joint.count_params() == _joint_params(8, filters, 3)


@pytest.mark.parametrize("height, width", [(32, 16), (64, 32), (8, 12)])
def test_generator_keeps_the_size_and_ends_in_tanh(height, width):
    generator = build_resnet_generator(blocks=2, filters=4, name="g_ir")
    pre_tanh = keras.Model(generator.input, generator.get_layer("g_ir_head_conv").output)
    images = _images(2, height, width)
    outputs = generator(images).numpy()
    assert outputs.shape == images.shape
    np.testing.assert_allclose(outputs, np.tanh(pre_tanh(images)), rtol=1e-5, atol=1e-6)
    assert np.all(np.abs(outputs) <= 1.0)


def test_generator_odd_sizes_round_up_and_fixed_sizes_are_checked():
    generator = build_resnet_generator(blocks=1, filters=2)
    # 30 -> 15 -> 8 -> 16 -> 32 and 18 -> 9 -> 5 -> 10 -> 20: a cycle loss could not compare.
    assert generator(_images(1, 30, 18)).shape == (1, 32, 20, 3)
    fixed = build_resnet_generator(blocks=1, filters=2, image_size=(32, 16))
    assert tuple(fixed.output.shape) == (None, 32, 16, 3)
    for size in ((30, 16), (32, 18), (4, 8), (32,), "32x16"):
        with pytest.raises(ValueError, match="multiples of 4"):
            build_resnet_generator(image_size=size)


def test_instance_norm_matches_numpy():
    """Per sample and channel over H x W, biased variance, eps 1e-5, no scale or offset."""
    generator = build_resnet_generator(blocks=0, filters=4, name="g")
    norm = generator.get_layer("g_stem_norm")
    x = _images(2, 6, 5, 4) * 3.0 + 1.0
    mean = x.mean(axis=(1, 2), keepdims=True)
    variance = x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(norm(x), (x - mean) / np.sqrt(variance + 1e-5), atol=1e-5)
    assert not norm.weights


def test_upsampling_aligns_as_pytorch_transposed_conv():
    """ConvTranspose2d(3, stride 2, padding 1, output_padding 1): output o gets x[i] w[k]
    for o = 2 i - 1 + k (PyTorch's o = i stride - padding + k), o in [0, 2 H)."""
    inputs = keras.Input((3, 4, 2))
    block = keras.Model(inputs, apply_upsample_block(inputs, 5, "up"))
    cropped = keras.Model(inputs, block.get_layer("up_crop").output)
    rng = np.random.default_rng(3)
    kernel = rng.normal(size=(3, 3, 5, 2)).astype("float32")  # Keras: [k, k, out, in]
    bias = rng.normal(size=5).astype("float32")
    block.get_layer("up_convt").set_weights([kernel, bias])
    x = _images(2, 3, 4, 2, seed=4)
    expected = np.tile(bias, (2, 6, 8, 1))
    for i in range(3):
        for j in range(4):
            for a in range(3):
                for b in range(3):
                    row, col = 2 * i - 1 + a, 2 * j - 1 + b
                    if 0 <= row < 6 and 0 <= col < 8:
                        expected[:, row, col] += x[:, i, j] @ kernel[a, b].T
    np.testing.assert_allclose(cropped(x), expected, rtol=1e-5, atol=1e-5)


def test_patch_discriminator_shapes_and_raw_logits():
    patch = build_patch_discriminator(filters=4, name="d_rgb")
    logits = patch(_images(2, 64, 32))
    # 64 -> 32 -> 16 -> 8 -> 7 -> 6 and 32 -> 16 -> 8 -> 4 -> 3 -> 2.
    assert logits.shape == (2, 6, 2, 1)
    assert np.any(logits.numpy() < 0)  # no sigmoid
    assert [patch.get_layer(f"d_rgb_conv{i}_conv").strides for i in range(1, 5)] == [
        (2, 2),
        (2, 2),
        (2, 2),
        (1, 1),
    ]
    with pytest.raises(ValueError):
        patch.get_layer("d_rgb_conv1_norm")  # the first conv is not normalised


def test_joint_discriminator_uses_both_inputs_at_any_feature_size():
    joint = build_joint_discriminator(feature_channels=8, filters=4)
    images = _images(2, 64, 32)
    features = _images(2, 4, 2, 8, seed=1)  # stride 16, resized up to the 8 x 4 image grid
    logits = joint([images, features]).numpy()
    assert logits.shape == (2, 2, 1, 1)
    assert joint([images, _images(2, 5, 3, 8, seed=1)]).shape == (2, 2, 1, 1)
    assert not np.allclose(joint([images, features * 2.0 + 1.0]), logits, atol=1e-4)
    assert not np.allclose(joint([_images(2, 64, 32, seed=2), features]), logits, atol=1e-4)


def _tiny_networks():
    generator = build_resnet_generator(blocks=1, filters=4, name="g")
    patch = build_patch_discriminator(filters=4, name="d_r")
    joint = build_joint_discriminator(feature_channels=8, filters=4, name="d_i")
    return [
        (generator, _images(2, 32, 16)),
        (patch, _images(2, 64, 32)),
        # At 64 x 32 the last maps are one column wide: some 4x4 and 3x3 taps would only
        # ever see the zero padding, and rightly get no gradient.
        (joint, [_images(2, 128, 64), _images(2, 8, 4, 8, seed=1)]),
    ]


def _feeds_instance_norm(model, weight):
    """A conv bias followed by an instance norm ("<block>_conv(t)" then "<block>_norm")."""
    layer_name = weight.path.split("/")[0]
    block = layer_name.rsplit("_", 1)[0]
    return weight.name == "bias" and any(layer.name == f"{block}_norm" for layer in model.layers)


@pytest.mark.parametrize("index", [0, 1, 2], ids=["generator", "patch", "joint"])
def test_one_training_step_changes_every_weight_the_output_depends_on(index):
    """Biases feeding an instance norm are subtracted with the mean: no gradient (CycleGAN
    keeps them anyway). Every other weight changes everywhere in one SGD step."""
    model, inputs = _tiny_networks()[index]
    target = np.random.default_rng(5).normal(size=model(inputs).shape).astype("float32")
    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(inputs, training=True) - target))
    gradients = tape.gradient(loss, model.trainable_weights)
    before = [w.numpy() for w in model.trainable_weights]
    keras.optimizers.SGD(learning_rate=0.1).apply(gradients, model.trainable_weights)
    largest = max(float(np.max(np.abs(g))) for g in gradients)
    dead = 0
    for weight, gradient, old in zip(model.trainable_weights, gradients, before, strict=True):
        if _feeds_instance_norm(model, weight):
            dead += 1
            assert np.max(np.abs(gradient)) < 1e-5 * largest, weight.path
        else:
            assert np.all(weight.numpy() != old), f"{weight.path} did not change everywhere"
    conv_count = len([w for w in model.trainable_weights if w.name == "bias"])
    norms = len([layer for layer in model.layers if layer.name.endswith("_norm")])
    assert dead == norms < conv_count


@pytest.mark.parametrize("index", [0, 2], ids=["generator", "joint"])
def test_config_round_trip_gives_the_same_network(index):
    """The registered layers (reflection padding, resizing) revive from JSON by name."""
    model, inputs = _tiny_networks()[index]
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(model)))
    revived = keras.saving.deserialize_keras_object(serialized)
    revived.set_weights(model.get_weights())
    assert [layer.name for layer in revived.layers] == [layer.name for layer in model.layers]
    np.testing.assert_allclose(revived(inputs), model(inputs), rtol=1e-6, atol=1e-6)


def test_layers_of_two_builds_have_distinct_names():
    g_ir = build_resnet_generator(blocks=1, filters=2, name="g_ir")
    g_rgb = build_resnet_generator(blocks=1, filters=2, name="g_rgb")
    names_ir = {layer.name for layer in g_ir.layers}
    assert names_ir.isdisjoint(layer.name for layer in g_rgb.layers)
    assert all(name.startswith("g_ir_") for name in names_ir)


def test_weights_start_from_normal_002_and_zero_bias(full_size_networks):
    kernel, bias = full_size_networks[0].get_layer("resnet_generator_block5_1_conv").weights
    values = kernel.numpy()
    assert abs(values.mean()) < 1e-3 and abs(values.std() - 0.02) < 1e-3
    assert not np.any(bias.numpy())
    other = full_size_networks[0].get_layer("resnet_generator_block6_1_conv").kernel.numpy()
    assert not np.array_equal(values, other)


@pytest.mark.parametrize(
    "build, kwargs, message",
    [
        (build_resnet_generator, {"blocks": -1}, "blocks must be an int >= 0"),
        (build_resnet_generator, {"filters": 0}, "filters must be an int >= 1"),
        (build_patch_discriminator, {"n_layers": 0}, "n_layers must be an int >= 1"),
        (build_patch_discriminator, {"channels": 1.5}, "channels must be an int >= 1"),
        (build_joint_discriminator, {"feature_channels": True}, "feature_channels must be"),
    ],
)
def test_bad_arguments_raise(build, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(**kwargs)


def test_unknown_activation_raises():
    with pytest.raises(ValueError, match="'relu', 'leaky_relu' or None, got 'tanh'"):
        apply_conv_block(keras.Input((8, 8, 3)), 4, 3, 1, "block", activation="tanh")
