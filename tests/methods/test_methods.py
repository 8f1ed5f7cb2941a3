"""Every method of METHODS through the generic harness: one step, two replicas, export.

Each case is a tiny config; every method has at least one. No test here knows a method: a
method's own test file holds its analytic references.
"""

import keras
import numpy as np
import pytest
import tensorflow as tf
from method_harness import (
    CLASSES,
    TINY_TSGAN,
    assert_same_step,
    build,
    random_batch,
    saved_model_round_trip,
    step,
    tiny_config,
)
from method_harness import two_replicas_and_one_device as two_and_one
from tools_harness import assert_one_line_error, run_all

from tfreid.config import ConfigError, load_config
from tfreid.methods import METHODS, base, resolve
from tfreid.training import precision
from tfreid.training.step import build_training

CASES = {
    "softmax": ["method.name=softmax", "model.encoding=zero_padding"],
    "softmax_comparisons": [
        "method.name=softmax",
        "method.params.triplet_weight=1.0",
        "method.params.mmd_weight=2.0",
        "method.params.coral_weight=3.0",
    ],
    "softmax_two_stream_pcb": [
        "method.name=softmax",
        "model.structure=two_stream",
        "model.specific_stages=3",
        "model.head=pcb",
        "model.stripes=2",
        "optimizer.backbone_lr_scale=0.1",
    ],
    "fmsp": ["method.name=fmsp", "model.structure=asymmetric_fc"],
    "hpiln": ["method.name=hpiln"],
    "hpiln_identity_centre": ["method.name=hpiln", "method.params.loss=identity_centre"],
    "base_derivative": [
        "method.name=base_derivative",
        "model.structure=two_stream",
        "model.specific_stages=1",
        "model.head=bnneck",
    ],
    "tsgan": list(TINY_TSGAN),
}


# Combinations refused when the config loads (`load_config`, or the method's `check` that
# `resolve` runs), before any data is read: {case: (overrides, what the one-line error names)}.
REFUSED = {
    "tsgan_two_stream": (
        ["method.name=tsgan", "method.params.ts_terms=none", "model.structure=two_stream"],
        ["method tsgan", "model.structure two_stream"],
    ),
    "tsgan_network": (
        ["method.name=tsgan", "method.params.ts_terms=none", "model.network=resmid"],
        ["method tsgan", "model.network resmid"],
    ),
    "identity_centre_float16": (
        [
            "method.name=hpiln",
            "method.params.loss=identity_centre",
            "train.mixed_precision=float16",
        ],
        ["train.mixed_precision", "method.params.loss identity_centre", "not float16"],
    ),
    "base_derivative_gray": (
        ["method.name=base_derivative", "model.encoding=gray"],
        ["model.encoding", "method.params.mdl_pairs", "base_derivative", "got 'gray'"],
    ),
    "two_stream_gated": (
        ["model.structure=two_stream", "model.backbone=gated_resnet50"],
        ["model.backbone", "model.structure two_stream", "got gated_resnet50"],
    ),
    "bnneck_asymmetric_fc": (
        ["model.head=bnneck", "model.structure=asymmetric_fc"],
        ["model.head: bnneck", "model.structure asymmetric_fc"],
    ),
    "network_last_stride": (
        ["model.network=mgn", "model.last_stride=1"],
        ["model.last_stride", "model.network is mgn", "got 1"],
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_a_combination_is_refused_in_one_line_naming_its_keys(case):
    overrides, named = REFUSED[case]
    with pytest.raises(ConfigError) as info:
        resolve(load_config(None, overrides))
    message = str(info.value)
    assert "\n" not in message and all(part in message for part in named), message


def test_train_refuses_each_combination_before_reading_or_writing_anything(tmp_path):
    """Exit 2 and one line from tools/train.py; the synthetic set it would write first and
    the work dir are never made."""
    root, workdir = tmp_path / "data", tmp_path / "run"
    config = tmp_path / "run.yaml"
    config.write_text(f"data: {{root: {root}, synthetic_ids: 4}}\n")
    arguments = ["--config", str(config), "--workdir", str(workdir), "--set"]
    cases = sorted(REFUSED)
    results = run_all(*[("train", *arguments, *REFUSED[case][0]) for case in cases])
    for case, result in zip(cases, results):
        assert_one_line_error(result, 2, f"{config}: ", *REFUSED[case][1])
    assert not root.exists() and not workdir.exists()


def test_every_method_has_a_case():
    assert {tiny_config(*case).method.name for case in CASES.values()} == set(METHODS)


@pytest.fixture
def float64(monkeypatch):
    """Float64 layers: two placements of float32 sums can round a ReLU or max-pool input to
    the other side of its kink and move one weight visibly (seen once in CI); in float64 any
    difference left is a real one (unsynchronised batch norm gives 0.17). The configs'
    `train.mixed_precision=none` builds under it, and so does a teacher checkpoint."""
    monkeypatch.setitem(precision.POLICIES, "none", "float64")
    policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy("float64")
    yield
    keras.config.set_dtype_policy(policy)


@pytest.mark.parametrize("policy", ["bfloat16", "float16"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_one_step_under_mixed_precision(case, policy):
    """Layers compute in the half type, variables and logged losses stay float32, and (in
    bfloat16, where no loss scale can skip the step) every trainable weight moves. The
    float32 step is checked by the two-replica test, in float64."""
    two_optimizers = "optimizer.backbone_lr_scale=0.1" in CASES[case]
    if policy == "float16" and (two_optimizers or case == "hpiln_identity_centre"):
        pytest.skip("refused (tested): two optimizers of one loss would need two loss scales")
    cfg = tiny_config(*CASES[case], f"train.mixed_precision={policy}")
    method, params, parts = build(cfg)
    before = [v.numpy() for net in parts.nets.values() for v in net.trainable_variables]
    batch = random_batch(height=cfg.data.height, width=cfg.data.width)
    losses = step(tf.distribute.get_strategy(), method, parts, params, batch)
    assert "loss/total" in losses and all(name.startswith("loss/") for name in losses)
    assert all(np.isfinite(value) for value in losses.values()), losses
    variables = [v for net in parts.nets.values() for v in net.variables]
    assert {v.dtype for v in variables} == {"float32"}
    computing = {
        layer.compute_dtype for net in parts.nets.values() for layer in net._flatten_layers()
    }
    assert policy in computing
    if policy == "bfloat16":
        after = [v.numpy() for net in parts.nets.values() for v in net.trainable_variables]
        unmoved = sum(np.array_equal(a, b) for a, b in zip(after, before, strict=True))
        assert unmoved == 0, f"{unmoved} of {len(after)} trainable variables did not move"


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_replicas_train_as_one_device(case, float64):
    assert_same_step(*two_and_one(tiny_config(*CASES[case])))


@pytest.mark.parametrize("wrong", ["not at all", "twice"])
def test_the_two_replica_check_catches_a_loss_scaled_wrongly(wrong, float64, monkeypatch):
    """A method that takes the replica's own mean (not scaled to the global batch), or divides
    by the replicas once more, logs 2x or 0.5x the loss on two replicas and moves the weights
    by 2x or 0.5x: the harness must see it."""

    def scaled(per_sample):
        if wrong == "not at all":
            return tf.reduce_mean(per_sample)
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return tf.nn.compute_average_loss(per_sample) / replicas

    monkeypatch.setattr(base, "mean_over_batch", scaled)
    two, one, initial = two_and_one(tiny_config(*CASES["softmax"]))
    expected = 2.0 if wrong == "not at all" else 0.5
    assert two[0]["loss/id"] == pytest.approx(expected * one[0]["loss/id"], rel=1e-6)
    with pytest.raises(AssertionError):
        assert_same_step(two, one, initial)


@pytest.mark.parametrize("case", sorted(CASES))
def test_saved_model_serves_the_in_process_embedding(case, tmp_path):
    cfg = tiny_config(*CASES[case])
    _, _, parts = build(cfg)
    in_process, served = saved_model_round_trip(parts, cfg, str(tmp_path / "saved_model"))
    assert in_process.shape[0] == 5 and np.isfinite(in_process).all()
    np.testing.assert_allclose(served, in_process, rtol=1e-5, atol=1e-6)


def test_xla_compiled_step_gives_the_uncompiled_losses_and_update():
    """runtime.jit_compile compiles each replica's step with XLA: same numbers, same update."""
    results = []
    for jit_compile in (False, True):
        cfg = tiny_config(*CASES["softmax_comparisons"], f"runtime.jit_compile={jit_compile}")
        keras.utils.set_random_seed(0)
        training = build_training(cfg, CLASSES, tf.distribute.get_strategy(), 1, epochs=1)
        losses = {name: float(value) for name, value in training.step(random_batch()).items()}
        results.append((losses, training.parts.nets["model"].get_weights()))
    (plain, plain_weights), (compiled, compiled_weights) = results
    assert plain.keys() == compiled.keys()
    for name, value in plain.items():
        assert compiled[name] == pytest.approx(value, rel=1e-4), name
    for a, b in zip(plain_weights, compiled_weights, strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
