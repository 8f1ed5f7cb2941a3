"""Gated ResNet-50 and the Modality-Gated Extractor (IJCV 2020, Sec. 4.3 and 6.2)."""

import h5py
import numpy as np
import pytest
import tensorflow as tf
from method_harness import build

from tfreid.config import load_config
from tfreid.data.augment import normalize, resize
from tfreid.export import export_saved_model
from tfreid.layers import ModalityGate
from tfreid.methods.base import Parts
from tfreid.models.networks import build_backbone, feature_channels, num_stages, stage_prefix
from tfreid.models.structures import build_model

UNITS_PER_BLOCK = 3  # 1x1, 3x3, 1x1 conv + BN units; the first block of a stage adds a projection
RESNET50_BLOCKS = (3, 4, 6, 3)


def gates_of(stages):
    return [layer for stage in stages for layer in stage.layers if isinstance(layer, ModalityGate)]


def set_gates(stages, rgb_raw, ir_raw):
    for gate in gates_of(stages):
        gate.rgb_gate.assign(np.full(gate.rgb_gate.shape, rgb_raw, "float32"))
        gate.ir_gate.assign(np.full(gate.ir_gate.shape, ir_raw, "float32"))


def run(stages, x, modality=None):
    x = tf.constant(x)
    for stage in stages:
        x = stage([x, modality] if modality is not None else x, training=False)
    return x.numpy()


def images(batch, height=64, width=32, seed=0):
    return np.random.default_rng(seed).normal(size=(batch, height, width, 3)).astype("float32")


def model_config(*overrides, height=64, width=32):
    return load_config(
        None,
        [
            "model.backbone=gated_resnet50",
            "model.head=pcb",
            "model.last_stride=1",
            f"data.height={height}",
            f"data.width={width}",
            *overrides,
        ],
    )


@pytest.fixture(scope="module")
def gated_stages():
    return build_backbone("gated_resnet50", 3, last_stride=1)


@pytest.fixture(scope="module")
def extractor():
    """The Modality-Gated Extractor at 64 x 32; tests that move its gates put them back."""
    return build_model(model_config(), num_classes=5)


def shuffled_gates(model, seed, which="rgb_gate"):
    rng = np.random.default_rng(seed)
    for gate in gates_of(model.shared):
        variable = getattr(gate, which)
        variable.assign(rng.uniform(0.2, 1.8, variable.shape).astype("float32"))


def test_stages_shapes_names_and_gate_count(gated_stages):
    modality = tf.constant([0, 1], tf.int32)
    x = tf.constant(images(2))
    shapes = []
    for stage in gated_stages:
        x = stage([x, modality], training=False)
        shapes.append(tuple(x.shape))
    assert shapes == [
        (2, 16, 8, 64),
        (2, 16, 8, 256),
        (2, 8, 4, 512),
        (2, 4, 2, 1024),
        (2, 4, 2, 2048),
    ]
    assert len(gated_stages) == num_stages("gated_resnet50") == 5
    assert feature_channels("gated_resnet50") == 2048
    assert [stage_prefix(stage) for stage in gated_stages] == [""] * 5
    gates = gates_of(gated_stages)
    # conv1, 3 units per bottleneck block, one projection per stage.
    assert len(gates) == 1 + UNITS_PER_BLOCK * sum(RESNET50_BLOCKS) + 4 == 53
    assert gates[0].name == "conv1_gate"
    assert "conv2_block1_0_gate" in {gate.name for gate in gates}


def test_same_layers_as_resnet50_plus_two_weights_per_channel(gated_stages):
    plain = build_backbone("resnet50", 3, last_stride=1)
    named = [
        layer.name
        for stage in gated_stages
        for layer in stage.layers
        if layer.weights and not isinstance(layer, ModalityGate)
    ]
    assert named == [layer.name for stage in plain for layer in stage.layers if layer.weights]
    gate_weights = sum(2 * gate.rgb_gate.shape[0] for gate in gates_of(gated_stages))
    total = sum(stage.count_params() for stage in gated_stages)
    assert total == sum(stage.count_params() for stage in plain) + gate_weights


@pytest.mark.parametrize("layout", ["", "_torchvision"])
def test_rgb_only_gates_give_resnet50_for_rgb_and_zero_for_ir(gated_stages, layout):
    """a1 = 1, a2 = 0 in every node (Eq. 11-12): RGB rows see plain ResNet-50 with the same
    weights; every node is RGB-specific, so IR rows come out exactly zero (Eq. 10). The same
    for the twins in torchvision's layout, which carry the same layer names."""
    plain = build_backbone(f"resnet50{layout}", 3, last_stride=1)
    if layout:
        gated_stages = build_backbone(f"gated_resnet50{layout}", 3, last_stride=1)
        assert len(gates_of(gated_stages)) == 53
    for gated_stage, plain_stage in zip(gated_stages, plain, strict=True):
        for layer in plain_stage.layers:
            if layer.weights:
                rng = np.random.default_rng(len(layer.name))
                values = [w + rng.uniform(0.1, 0.5, w.shape) for w in layer.get_weights()]
                layer.set_weights(values)
                gated_stage.get_layer(layer.name).set_weights(values)
    set_gates(gated_stages, 1.0, 0.0)
    x = images(2, seed=1)
    both = run(gated_stages, np.concatenate([x, x]), tf.constant([0, 0, 1, 1], tf.int32))
    np.testing.assert_allclose(both[:2], run(plain, x), rtol=1e-4, atol=1e-4)
    assert np.abs(both[2:]).max() == 0.0
    set_gates(gated_stages, 1.0, 1.0)


def test_extractor_shapes_and_unit_embeddings(extractor):
    outputs = extractor({"rgb": images(2), "ir": images(3, seed=1)}, training=False)
    assert outputs["features"].shape == (5, 6 * 256)
    assert outputs["embedding"].shape == (5, 6 * 256)
    assert outputs["logits"].shape == (5, 6, 5)
    np.testing.assert_allclose(np.linalg.norm(outputs["embedding"], axis=1), 1.0, rtol=1e-5)
    normalised = outputs["features"] / np.linalg.norm(outputs["features"], axis=1, keepdims=True)
    np.testing.assert_allclose(outputs["embedding"], normalised, rtol=1e-5, atol=1e-6)


def test_gates_are_new_layers_not_backbone_variables(extractor):
    """backbone_variables (ImageNet-initialised, trained at PCB's lower rate) holds every
    conv / BN weight of the backbone and no gate."""
    backbone = {id(v) for v in extractor.backbone_variables()}
    gates = gates_of(extractor.shared)
    assert all(id(v) not in backbone for gate in gates for v in gate.trainable_variables)
    stage_variables = [v for stage in extractor.shared for v in stage.trainable_variables]
    assert len(backbone) == len(stage_variables) - 2 * len(gates)


def test_modality_drives_the_embedding(extractor):
    """Shared gates (a1 = a2): an image embeds the same as RGB and as IR. Once the gates
    differ, it does not; `embed` of mixed rows matches the [rgb; ir] training layout."""
    model = extractor
    x = images(2, seed=2)
    same_image = np.concatenate([x, x])
    modality = tf.constant([0, 0, 1, 1], tf.int32)
    shared = model.embed(same_image, modality).numpy()
    np.testing.assert_allclose(shared[:2], shared[2:], rtol=1e-5, atol=1e-6)

    shuffled_gates(model, 3)
    gated = model.embed(same_image, modality).numpy()
    assert np.abs(gated[:2] - gated[2:]).max() > 1e-3
    mixed = model.embed(same_image[[0, 2, 1, 3]], tf.constant([0, 1, 0, 1])).numpy()
    np.testing.assert_allclose(mixed, gated[[0, 2, 1, 3]], rtol=1e-5, atol=1e-6)
    layout = model({"rgb": x, "ir": x}, training=False)["embedding"].numpy()
    np.testing.assert_allclose(layout, gated, rtol=1e-5, atol=1e-6)
    set_gates(model.shared, 1.0, 1.0)


def test_asymmetric_pcb_reduction_is_per_modality():
    model = build_model(model_config("model.structure=asymmetric_fc"), num_classes=4)
    kernel = model.head.rgb_fc.get_layer("rgb_fc_conv").kernel
    assert kernel.shape == (2048, 256)
    assert model.head.ir_fc.get_layer("ir_fc_conv").kernel is not kernel
    x = images(1, seed=4)
    rows = model.embed(np.concatenate([x, x]), tf.constant([0, 1])).numpy()
    assert np.abs(rows[0] - rows[1]).max() > 1e-3  # independent initial weights


def test_two_stream_with_gates_is_refused():
    with pytest.raises(ValueError, match="two_stream.*gated_resnet50"):
        build_model(model_config("model.structure=two_stream"), num_classes=4)


def _write_legacy_resnet50(path, stages):
    layers = [layer for stage in stages for layer in stage.layers if layer.weights]
    with h5py.File(path, "w") as weights_file:
        weights_file.attrs["layer_names"] = [layer.name.encode() for layer in layers]
        for layer in layers:
            group = weights_file.create_group(layer.name)
            names = [f"{layer.name}/{weight.name}:0" for weight in layer.weights]
            group.attrs["weight_names"] = [name.encode() for name in names]
            for name, weight in zip(names, layer.get_weights(), strict=True):
                group.create_dataset(name, data=weight)


def test_imagenet_weights_load_into_the_gated_extractor(tmp_path):
    """Zero-padding input: both stem channels start from the summed RGB kernel, taken after
    the kernel is rewritten from caffe-style BGR input to our normalised RGB input."""
    source = build_backbone("resnet50", 3)
    rng = np.random.default_rng(5)
    for layer in source[0].layers + source[4].layers:
        if layer.weights:
            layer.set_weights([w + rng.normal(0, 0.1, w.shape) for w in layer.get_weights()])
    path = str(tmp_path / "resnet50_notop.h5")
    _write_legacy_resnet50(path, source)
    cfg = model_config("model.encoding=zero_padding", f"model.pretrained_weights={path}")
    model = build_model(cfg, num_classes=3)
    stem, last = model.shared[0], model.shared[4]
    kernel, bias = source[0].get_layer("conv1_conv").get_weights()
    # Independent of the library's rewrite: BGR -> RGB, times 255 std per RGB channel.
    rgb = kernel[:, :, ::-1] * 255.0 * np.array(cfg.data.std)[:, None]
    expected = np.repeat(rgb.sum(2, keepdims=True), 2, 2)
    np.testing.assert_allclose(
        stem.get_layer("conv1_conv").kernel, expected, rtol=1e-5, atol=1e-6 * np.abs(expected).max()
    )
    assert np.abs(stem.get_layer("conv1_conv").bias.numpy() - bias).max() > 1e-3  # rewritten
    for name in ("conv5_block3_3_bn", "conv5_block1_0_conv"):
        for ours, theirs in zip(last.get_layer(name).weights, source[4].get_layer(name).weights):
            np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    for gate in gates_of(model.shared):
        assert np.all(gate.rgb_gate.numpy() == 1.0) and np.all(gate.ir_gate.numpy() == 1.0)


def test_full_size_extractor_trains_one_step():
    """384 x 128 input, last stride 1: a 24 x 8 map, 6 stripes of 4 rows, 1536-d embedding."""
    cfg = model_config("method.name=fmsp", "optimizer.learning_rate=0.1", height=384, width=128)
    method, params, parts = build(cfg, num_classes=2)
    model = parts.nets["model"]
    pid = tf.constant([0, 1], tf.int32)
    rng = np.random.default_rng(6)
    batch = {
        m: {"image": tf.constant(rng.normal(size=(2, 384, 128, 3)), tf.float32), "pid": pid}
        for m in ("rgb", "ir")
    }
    gate = gates_of(model.shared)[0]
    before = gate.rgb_gate.numpy().copy()
    losses = method.train_step(parts, batch, params)
    assert all(np.isfinite(float(value)) for value in losses.values())
    assert np.abs(gate.rgb_gate.numpy() - before).max() > 0
    embedding = model.embed(batch["rgb"]["image"], tf.constant([0, 0]))
    assert embedding.shape == (2, 1536)


def test_saved_model_takes_the_modality(tmp_path, extractor):
    """The exported signature feeds `modality` to the gates: the same image gives different
    embeddings as RGB and as IR once the gates differ, equal to the in-process ones."""
    cfg, model = model_config(), extractor
    parts = Parts(nets={"model": model}, optimizers={}, serving=model)
    shuffled_gates(model, 7, "ir_gate")
    directory = export_saved_model(parts, cfg.data, str(tmp_path / "sm"))
    loaded = tf.saved_model.load(directory)
    image = np.random.default_rng(8).integers(0, 256, size=(1, 80, 40, 3), dtype=np.uint8)
    both = tf.constant(np.concatenate([image, image]))
    served = loaded.signatures["serving_default"](
        image=both, modality=tf.constant([0, 1], tf.int32)
    )["embedding"].numpy()
    assert np.abs(served[0] - served[1]).max() > 1e-3
    normalised = normalize(resize(both, 64, 32), cfg.data.mean, cfg.data.std)
    local = model.embed(normalised, tf.constant([0, 1])).numpy()
    np.testing.assert_allclose(served, local, rtol=1e-4, atol=1e-5)
    set_gates(model.shared, 1.0, 1.0)
