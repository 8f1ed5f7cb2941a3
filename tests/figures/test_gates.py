"""The Fig. 14 statistics of the gates of a checkpoint (IJCV 2020): tfreid/figures/gates.py and
tools/plot_gates.py."""

import numpy as np
import pytest
import tensorflow as tf
from method_harness import build
from tools_harness import assert_one_line_error, last_line, run_all

from tfreid.config import ConfigError, load_config, save_config
from tfreid.figures import gates
from tfreid.layers import ModalityGate
from tfreid.training.loop import checkpoint_for


def expected_rows(raw):
    """Fig. 14 per layer from raw gate weights {name: (a1', a2')}, by loops."""
    rows = {}
    for name, (raw_1, raw_2) in raw.items():
        rgb_values, ir_values = [], []
        for r1, r2 in zip(np.abs(raw_1), np.abs(raw_2), strict=True):
            a1, a2 = r1 / (r1 + r2), r2 / (r1 + r2)
            (rgb_values if a1 >= a2 else ir_values).append(a1 if a1 >= a2 else a2)
        count = len(raw_1)
        rows[name] = (
            np.mean(rgb_values) if rgb_values else np.nan,
            np.mean(ir_values) if ir_values else np.nan,
            len(rgb_values) / count,
            len(ir_values) / count,
        )
    return rows


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A gated model with known gates, saved as a training checkpoint with its config."""
    directory = tmp_path_factory.mktemp("gates")
    cfg = load_config(
        None,
        ["model.backbone=gated_resnet50", "model.head=pcb", "data.height=64", "data.width=32"],
    )
    parts = build(cfg, num_classes=3)[2]
    gates = [
        layer
        for stage in parts.nets["model"].shared
        for layer in stage.layers
        if isinstance(layer, ModalityGate)
    ]
    rng = np.random.default_rng(0)
    raw = {}
    for index, gate in enumerate(gates):
        size = gate.rgb_gate.shape[0]
        raw_1 = rng.uniform(0.05, 2.0, size).astype("float32")
        raw_2 = rng.uniform(0.05, 2.0, size).astype("float32")
        if index == 0:  # conv1: every node RGB-specific, so mean a2 has no node to average
            raw_2 = raw_1 / 2
        gate.rgb_gate.assign(raw_1)
        gate.ir_gate.assign(raw_2)
        raw[gate.name] = (raw_1, raw_2)
    save_config(cfg, str(directory / "config.yaml"))
    num_classes = tf.Variable(3, dtype=tf.int64)
    prefix = checkpoint_for(parts, num_classes=num_classes).save(str(directory / "ckpt"))
    return directory, prefix, parts, raw


def test_statistics_match_a_loop_over_nodes(run_dir):
    _, _, parts, raw = run_dir
    rows = gates.gate_statistics(parts.nets["model"])
    assert [row["name"] for row in rows] == list(raw)
    assert [row["layer"] for row in rows] == list(range(1, 54))
    expected = expected_rows(raw)
    for row in rows:
        values = (row["rgb_mean"], row["ir_mean"], row["rgb_share"], row["ir_share"])
        np.testing.assert_allclose(values, expected[row["name"]], rtol=1e-5, err_msg=row["name"])
        assert row["nodes"] == len(raw[row["name"]][0])
    assert rows[0]["rgb_share"] == 1.0 and np.isnan(rows[0]["ir_mean"])


def test_tool_prints_the_table_and_writes_the_plot(run_dir):
    directory, prefix, _, raw = run_dir
    output = directory / "plots" / "gates.png"
    (result,) = run_all(
        ("plot_gates", "--config", str(directory / "config.yaml"), "--checkpoint", prefix,
         "--output", str(output)),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert output.stat().st_size > 0
    lines = [line.split() for line in result.stdout.splitlines() if line[:5].strip().isdigit()]
    assert len(lines) == 53
    expected = expected_rows(raw)
    for fields in lines:
        printed = [float(value) for value in fields[3:7]]
        np.testing.assert_allclose(printed, expected[fields[1]], atol=6e-5, err_msg=fields[1])


def test_user_errors_are_one_line(run_dir, tmp_path):
    """A plain backbone is a config error (2); a missing checkpoint another failure (1)."""
    directory, _, _, _ = run_dir
    plain = tmp_path / "plain.yaml"
    plain.write_text("model:\n  backbone: resnet50\n")
    missing = str(tmp_path / "nothing")
    config, output = str(directory / "config.yaml"), ("--output", str(tmp_path / "y.png"))
    plain_run, missing_run = run_all(
        ("plot_gates", "--config", str(plain), "--checkpoint", "x", *output),
        ("plot_gates", "--config", config, "--checkpoint", missing, *output),
    )
    assert_one_line_error(plain_run, 2)
    assert last_line(plain_run.stderr) == (
        f"error: {plain}: model.backbone is 'resnet50'; gate weights exist only in a "
        "gated model ('gated_resnet50', 'gated_resnet50_torchvision')"
    )
    assert_one_line_error(missing_run, 1, missing)
    assert last_line(missing_run.stderr).startswith("error: checkpoint")


def test_only_a_gated_backbone_has_gates(run_dir):
    directory, _, _, _ = run_dir
    gates.check_config(load_config(str(directory / "config.yaml")), "run.yaml")
    with pytest.raises(ConfigError, match=r"^plain.yaml: model.backbone is 'resnet50'; gate"):
        gates.check_config(load_config(None, ["model.backbone=resnet50"]), "plain.yaml")
