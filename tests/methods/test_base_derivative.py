"""The base-derivative method (ICPR 2020, Eq. 1-9): its loss against NumPy, the update reaching
the generator, the four-stem model, the V/I-only export, the Table IV switch and a short run."""

import os
import re

import keras
import numpy as np
import pytest
import tensorflow as tf
from knobs import read_knobs
from method_harness import (
    H,
    W,
    build,
    random_batch,
    saved_model_round_trip,
    synthetic_batch,
    tiny_config,
)
from references import cross_entropy

from tfreid.config import ConfigError, load_config
from tfreid.methods import base, base_derivative, resolve

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONFIGS = {
    dataset: os.path.join(REPO, "yaml_configs", dataset, "base_derivative.yaml")
    for dataset in ("sysu", "regdb")
}
MODEL = ["model.structure=two_stream", "model.head=bnneck"]  # and one specific stage
# torchvision's resnet50 without fc: 23,508,032 trainable + 53,120 BN statistics
TORCHVISION_RESNET50_PARAMS = 23_561_152
RESNET50_STEM_PARAMS = 7 * 7 * 3 * 64 + 4 * 64  # conv1 kernel (no bias), BN (4 x 64)


def config(*overrides):
    model = [*MODEL, *overrides]
    return tiny_config("method.name=base_derivative", *read_knobs(model, specific_stages=1), *model)


def test_defaults_follow_the_paper():
    params = base_derivative.Params()
    weights = (params.id_weight, params.mml_weight, params.mdl_weight)
    assert weights == (1.0, 1.0, 1.0)  # SYSU-MM01 (RegDB: 1 : 1 : 5)
    assert (params.mml_margin, params.mdl_margin) == (0.3, 0.5)
    assert params.mdl_pairs == ["V-I", "V-D_I", "I-D_V"]
    assert params.reduction == "mean"  # over anchors; docs/loss_scales.md


@pytest.mark.parametrize(
    "pairs, modalities",
    [
        ([], ("rgb", "ir")),  # B1 (with mml_weight 0)
        (["V-I"], ("rgb", "ir")),  # B2
        (["V-I", "V-D_I"], ("rgb", "ir", "ir_derived")),  # B2+MML+MDL^1
        (["V-I", "I-D_V"], ("rgb", "ir", "rgb_derived")),  # ^2
        (["V-I", "V-D_I", "I-D_V", "D_V-D_I"], ("rgb", "ir", "rgb_derived", "ir_derived")),
        (["V-I", "V-D_I", "I-D_V"], ("rgb", "ir", "rgb_derived", "ir_derived")),  # ^4
    ],
)
def test_mdl_pairs_select_the_modalities_of_table_iv(pairs, modalities):
    assert base_derivative.taking_part(base_derivative.Params(mdl_pairs=pairs)) == modalities


@pytest.mark.parametrize(
    "value, message",
    [
        ("[V-I, V-I]", r"mdl_pairs: a pair is listed twice in \['V-I', 'V-I'\]"),
        ("[I-V]", r"mdl_pairs\[0\]: got 'I-V' \(str\), expected one of 'V-I', 'V-D_I'"),
    ],
)
def test_bad_pairs_are_named(value, message):
    with pytest.raises(ConfigError, match=message):
        resolve(config(f"method.params.mdl_pairs={value}"))


@pytest.mark.parametrize(
    "overrides, message",
    [
        (["model.encoding=gray"], r"^model.encoding: .*rgb_derived, ir_derived; method.params"),
        (
            ["model.structure=one_stream", "model.backbone=gated_resnet50"],
            r"^model.backbone: modalities beyond rgb and ir .* got one_stream on gated_resnet50$",
        ),
        (
            ["model.structure=asymmetric_fc", "model.head=fc"],
            r"^model.structure: modalities beyond rgb and ir .* got asymmetric_fc on resnet6$",
        ),
        (
            ["model.encoding=zero_padding", "method.params.mdl_pairs=[V-I, I-D_V]"],
            r"^model.encoding: modalities beyond rgb and ir \(rgb_derived; method.params.mdl_pairs "
            r"\['V-I', 'I-D_V'\] of base_derivative\) need 'rgb3'",
        ),
    ],
)
def test_a_model_that_cannot_take_the_derivatives_is_refused_by_resolve(overrides, message):
    with pytest.raises(ConfigError, match=message):
        resolve(config(*overrides))


@pytest.mark.parametrize("pairs", [["V-I"], []])
def test_without_derivatives_a_two_modality_model_is_taken(pairs):
    """B2 ([V-I]) and B1 ([]) train V and I alone, which every encoding takes."""
    cfg = config("model.encoding=gray", f"method.params.mdl_pairs=[{', '.join(pairs)}]")
    assert resolve(cfg)[1].mdl_pairs == pairs


def numpy_generator(rgb, ir, weights):
    """Eq. 1 on [..., 3] arrays: D_V = G_S(relu(E_V(V))), D_I = G_S(mean_c I)."""
    encoder_kernel, encoder_bias, generator_kernel, generator_bias = weights
    encoded = np.maximum(rgb @ encoder_kernel + encoder_bias, 0.0)
    ir_channel = ir.mean(axis=-1, keepdims=True)
    shared = [x @ generator_kernel + generator_bias for x in (encoded, ir_channel)]
    return tuple(shared)


def numpy_hard_triplet(labels, features, target_labels, target_features, margin):
    """Per anchor: [margin + max over same-id targets - min over other-id targets]+, by loops."""
    losses = []
    for label, feature in zip(labels, features, strict=True):
        distances = np.linalg.norm(target_features - feature, axis=1)
        positives = distances[target_labels == label]
        negatives = distances[target_labels != label]
        hinge = margin + positives.max() - negatives.min()
        losses.append(max(hinge, 0.0))
    return np.array(losses)


def numpy_loss(outputs, labels, params):
    """(ID, MML, MDL) of Eq. 8, 6-7, 2-5 from the model's outputs on [V; I; D_V; D_I] rows:
    the triplets' means over anchors (`reduction: mean`) or their sums as Eq. 4 and 7 print
    them (`sum`); ID is Eq. 8's sum of per-modality means either way."""
    names = ("V", "I", "D_V", "D_I")
    features = dict(zip(names, np.split(outputs["features"].numpy(), 4), strict=True))
    logits = dict(zip(names, np.split(outputs["logits"].numpy(), 4), strict=True))
    reduce = np.sum if params.reduction == "sum" else np.mean
    identity = sum(cross_entropy(labels, logits[m]).mean() for m in names)
    intra = sum(
        reduce(numpy_hard_triplet(labels, features[m], labels, features[m], params.mml_margin))
        for m in names
    )
    cross = 0.0
    for pair in params.mdl_pairs:
        a, b = pair.split("-")
        for first, second in ((a, b), (b, a)):
            cross += reduce(
                numpy_hard_triplet(
                    labels, features[first], labels, features[second], params.mdl_margin
                )
            )
    return identity, intra, cross


@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_step_minimises_the_weighted_sum_and_trains_the_generator(reduction):
    """The logged ID, MML and MDL equal NumPy's on the model's outputs for the generated
    derivatives (triplets averaged over anchors, or summed as Eq. 4 and 7 print them), and
    plain SGD moves every weight, E_V and G_S included, by -lr times the gradient of α·ID +
    β·MML + γ·MDL."""
    cfg = config(
        "method.params.id_weight=2.0",
        "method.params.mml_weight=3.0",
        "method.params.mdl_weight=0.5",
        f"method.params.reduction={reduction}",
    )
    _, params, parts = build(cfg)
    model, generator = parts.nets["model"], parts.nets["generator"]
    rng = np.random.default_rng(7)
    generator.set_weights([rng.normal(0.5, 0.3, w.shape) for w in generator.get_weights()])
    batch = random_batch(1)
    rgb, ir = batch["rgb"]["image"], batch["ir"]["image"]
    labels = batch["rgb"]["pid"].numpy()
    derived_rgb, derived_ir = numpy_generator(rgb.numpy(), ir.numpy(), generator.get_weights())
    variables = model.trainable_variables + generator.trainable_variables
    with tf.GradientTape() as tape:
        made_rgb, made_ir = generator([rgb, ir])
        inputs = {"rgb": rgb, "ir": ir, "rgb_derived": made_rgb, "ir_derived": made_ir}
        outputs = model(inputs, training=True)
        features = tf.split(outputs["features"], 4)
        logits = tf.split(outputs["logits"], 4)
        total = step_total(labels, features, logits, params)
    gradients = tape.gradient(total, variables)
    np.testing.assert_allclose(made_rgb, derived_rgb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(made_ir, derived_ir, rtol=1e-5, atol=1e-5)
    identity, intra, cross = numpy_loss(outputs, labels, params)
    assert min(identity, intra, cross) > 0.1
    before = [v.numpy() for v in variables]

    losses = base_derivative.train_step(parts, batch, params)
    assert set(losses) == {"loss/total", "loss/id", "loss/mml", "loss/mdl"}
    np.testing.assert_allclose(losses["loss/id"], identity, rtol=1e-5)
    np.testing.assert_allclose(losses["loss/mml"], intra, rtol=1e-4)
    np.testing.assert_allclose(losses["loss/mdl"], cross, rtol=1e-4)
    np.testing.assert_allclose(
        losses["loss/total"], 2.0 * identity + 3.0 * intra + 0.5 * cross, rtol=1e-4
    )
    for gradient in gradients[-4:]:  # E_V kernel and bias, G_S kernel and bias
        assert np.abs(gradient.numpy()).max() > 1e-3
    # atol: float32 sums in another order (seen: 1.4e-6 on one of 2,352 stem weights), on
    # gradients P·K = 8 times larger under "sum".
    atol = 1e-5 if reduction == "mean" else 8e-5
    for variable, old, gradient in zip(variables, before, gradients, strict=True):
        np.testing.assert_allclose(
            variable.numpy(), old - 0.1 * gradient.numpy(), rtol=1e-4, atol=atol
        )


def step_total(labels, features, logits, params):
    """α·ID + β·MML + γ·MDL in TensorFlow on [V, I, D_V, D_I] blocks (for its gradient)."""
    from tfreid.losses import batch_hard_triplet, cross_modality_triplet

    index = {"V": 0, "I": 1, "D_V": 2, "D_I": 3}
    reduce = tf.reduce_sum if params.reduction == "sum" else tf.reduce_mean
    identity = sum(
        tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels, x)) for x in logits
    )
    intra = sum(reduce(batch_hard_triplet(labels, f, params.mml_margin)) for f in features)
    cross = 0.0
    for pair in params.mdl_pairs:
        a, b = (features[index[m]] for m in pair.split("-"))
        for first, second in ((a, b), (b, a)):
            triplets = cross_modality_triplet(labels, first, labels, second, params.mdl_margin)
            cross += reduce(triplets)
    return params.id_weight * identity + params.mml_weight * intra + params.mdl_weight * cross


def test_without_derivatives_there_is_no_generator_and_no_mdl_term():
    """B1: ID only on V and I (mdl_pairs [], mml_weight 0)."""
    _, params, parts = build(config("method.params.mdl_pairs=[]", "method.params.mml_weight=0"))
    assert set(parts.nets) == {"model"} and parts.nets["model"].modalities == ("rgb", "ir")
    batch = random_batch(2)
    outputs = parts.nets["model"](
        {"rgb": batch["rgb"]["image"], "ir": batch["ir"]["image"]}, training=True
    )
    labels = np.tile(batch["rgb"]["pid"].numpy(), 2)
    expected = sum(
        cross_entropy(part, logits).mean()
        for part, logits in zip(np.split(labels, 2), np.split(outputs["logits"].numpy(), 2))
    )
    losses = base_derivative.train_step(parts, batch, params)
    assert float(losses["loss/mdl"]) == 0.0
    np.testing.assert_allclose(losses["loss/total"], expected, rtol=1e-5)


def test_backbone_scale_keeps_the_generator_with_the_new_layers():
    """D_V alone (Table IV's row 2, so E_V and G_S both train) with the backbone at 0.1x:
    the generator is updated by the new layers' optimizer, and one step moves every weight."""
    cfg = config("method.params.mdl_pairs=[V-I, I-D_V]", "optimizer.backbone_lr_scale=0.1")
    _, params, parts = build(cfg)
    model, generator = parts.nets["model"], parts.nets["generator"]
    assert model.modalities == ("rgb", "ir", "rgb_derived")
    (new, optimizer), (backbone, backbone_optimizer) = base.net_groups(parts, extra=["generator"])
    assert (optimizer, backbone_optimizer) == (
        parts.optimizers["model"],
        parts.optimizers["model_backbone"],
    )
    paths = {v.path for v in new}
    assert {v.path for v in generator.trainable_variables} <= paths
    assert {v.path for v in model.head.trainable_variables} <= paths
    assert {id(v) for v in backbone} == {id(v) for v in model.backbone_variables()}
    assert float(backbone_optimizer.learning_rate) == pytest.approx(
        0.1 * float(optimizer.learning_rate)
    )
    variables = new + backbone
    before = [v.numpy() for v in variables]
    base_derivative.train_step(parts, random_batch(3), params)
    unmoved = [v.path for v, b in zip(variables, before, strict=True) if np.array_equal(v, b)]
    assert not unmoved


def test_export_holds_the_v_and_i_paths_only(tmp_path):
    """The SavedModel has two stems' worth of weights, none of the generator's, and serves the
    in-process embedding of the V and I paths of the trained four-stem model."""
    cfg = config()
    _, _, parts = build(cfg)
    model = parts.nets["model"]
    in_process, served = saved_model_round_trip(parts, cfg, str(tmp_path / "saved_model"))
    np.testing.assert_allclose(served, in_process, rtol=1e-5, atol=1e-6)

    stem_size = sum(int(np.prod(v.shape)) for stage in model.stem("rgb") for v in stage.weights)
    loaded = tf.saved_model.load(str(tmp_path / "saved_model"))
    size = sum(int(np.prod(v.shape)) for v in loaded.variables)
    full = sum(int(np.prod(v.shape)) for v in model.weights)
    assert size == full - 2 * stem_size
    served_paths = {v.path for v in parts.serving.weights}
    assert not any("derived" in path or "generator" in path for path in served_paths)

    images = tf.constant(np.random.default_rng(0).normal(size=(4, H, W, 3)), tf.float32)
    modality = tf.constant([0, 1, 1, 0])
    np.testing.assert_allclose(
        parts.serving.embed(images, modality), model.embed(images, modality), atol=1e-6
    )


def test_the_paper_model_has_four_resnet50_stems_and_shared_stride_16_stages():
    """The shipped SYSU config at 288x144: four ResNet-50 stems (torchvision's layout, the
    paper's start), shared layer1-4 with last stride 1 (an 18 x 9 map), the BN neck and one
    bias-free classifier; the serving model is the same without two stems. (Built without
    its ImageNet weights: the structure is the subject here.)"""
    cfg = load_config(CONFIGS["sysu"], ["model.pretrained_weights=null"])
    _, _, parts = build(cfg, num_classes=395)
    model = parts.nets["model"]
    assert model.modalities == ("rgb", "ir", "rgb_derived", "ir_derived")
    assert [[s.name for s in model.stem(m)] for m in model.modalities] == [
        [f"{m}_resnet50_torchvision_stem"] for m in model.modalities
    ]
    assert [s.name for s in model.shared] == [f"resnet50_torchvision_conv{i}" for i in range(2, 6)]
    x = tf.zeros((1, 288, 144, 3))
    for stage in model.stem("ir_derived") + model.shared:
        x = stage(x)
    assert x.shape == (1, 18, 9, 2048)
    head = 3 * 2048 + 2048 * 395  # the neck's gamma and statistics (no beta), the classifier
    assert model.count_params() == TORCHVISION_RESNET50_PARAMS + 3 * RESNET50_STEM_PARAMS + head
    served = sum(int(np.prod(v.shape)) for v in parts.serving.weights)
    assert served == model.count_params() - 2 * RESNET50_STEM_PARAMS
    assert parts.nets["generator"].count_params() == 3 + 1 + 3 + 3


def test_a_short_run_on_synthetic_data_lowers_the_loss():
    """Identities as colour patterns, IR as their gray: the total loss falls over a few steps."""
    keras.utils.set_random_seed(0)
    _, params, parts = build(config("optimizer.learning_rate=0.02", "optimizer.momentum=0.9"))
    batch = synthetic_batch()
    # Eager steps: tracing costs more than these few steps.
    totals = [
        float(base_derivative.train_step(parts, batch, params)["loss/total"]) for _ in range(6)
    ]
    assert np.isfinite(totals).all()
    assert totals[-1] < 0.8 * totals[0], totals


@pytest.mark.parametrize("dataset", ["sysu", "regdb"])
def test_shipped_configs_and_their_table_iv_lines(dataset):
    """The configs state the paper's settings, and every documented `--set` line of the Table
    IV ablation resolves to its row's modalities."""
    cfg = load_config(CONFIGS[dataset])
    _, params = resolve(cfg)
    assert params.mdl_weight == (1.0 if dataset == "sysu" else 5.0)
    assert (cfg.data.height, cfg.data.width) == (288, 144)
    assert (cfg.data.identities_per_batch, cfg.data.images_per_identity) == (6, 4)
    assert (cfg.optimizer.name, cfg.optimizer.learning_rate) == ("sgd", 0.01)
    assert cfg.optimizer.warmup_epochs > 0
    assert cfg.train.epochs == (80 if dataset == "sysu" else 60)
    with open(CONFIGS[dataset]) as f:
        lines = re.findall(r"#\s+(\S+):\s+--set (.+)", f.read())
    rows = {
        row: base_derivative.taking_part(resolve(load_config(CONFIGS[dataset], sets.split()))[1])
        for row, sets in lines
    }
    assert rows == {
        "B1": ("rgb", "ir"),
        "B2": ("rgb", "ir"),
        "B2+MML+MDL^1": ("rgb", "ir", "ir_derived"),
        "B2+MML+MDL^2": ("rgb", "ir", "rgb_derived"),
        "B2+MML+MDL^3": ("rgb", "ir", "rgb_derived", "ir_derived"),
    }
