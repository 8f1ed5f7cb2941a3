"""The V, D_V, I, D_I grid of a base-derivative checkpoint: tfreid/figures/derivatives.py and
tools/show_derivatives.py."""

import numpy as np
import pytest
import tensorflow as tf
from method_harness import H, W, build, tiny_config
from PIL import Image
from tools_harness import assert_one_line_error, last_line, run_all

from tfreid.config import ConfigError, save_config
from tfreid.data import synthetic
from tfreid.data.datasets import training_samples
from tfreid.data.pipeline import decode_image
from tfreid.figures import derivatives
from tfreid.figures.identities import pick_identities
from tfreid.training.loop import checkpoint_for, restore_parts

MEAN, STD = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
WEIGHTS = [  # E_V kernel and bias, G_S kernel and bias: D_V and D_I visibly not gray
    np.array([[0.6], [0.3], [0.1]]),
    np.array([0.2]),
    np.array([[1.2, 0.4, -0.5]]),
    np.array([0.1, -0.3, 0.2]),
]


def config_overrides(root):
    return [
        "method.name=base_derivative",
        "model.structure=two_stream",
        "model.specific_stages=1",
        "model.head=bnneck",
        f"data.root={root}",
    ]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A base-derivative checkpoint with known generator weights, its config and data."""
    directory = tmp_path_factory.mktemp("derivatives")
    root = synthetic.write_sysu(str(directory / "data"), num_ids=8, seed=0, height=H, width=W)
    cfg = tiny_config(*config_overrides(root))
    parts = build(cfg, num_classes=6)[2]
    parts.nets["generator"].set_weights(WEIGHTS)
    save_config(cfg, str(directory / "config.yaml"))
    num_classes = tf.Variable(6, dtype=tf.int64)
    prefix = checkpoint_for(parts, num_classes=num_classes).save(str(directory / "ckpt"))
    return directory, prefix, cfg


def numpy_column(images, weights, derive_rgb):
    """Eq. 1 on normalised uint8 images [N, H, W, 3], drawn back in pixels."""
    x = (np.asarray(images, np.float64) / 255.0 - MEAN) / STD
    encoder_kernel, encoder_bias, generator_kernel, generator_bias = weights
    if derive_rgb:
        one = np.maximum(x @ encoder_kernel + encoder_bias, 0.0)
    else:
        one = x.mean(axis=-1, keepdims=True)
    derived = one @ generator_kernel + generator_bias
    return np.round(np.clip(255.0 * (derived * STD + MEAN), 0, 255))


def test_cells_are_the_generator_on_the_images_the_model_sees(run_dir):
    """Synthetic images are stored at the model's size, so the V and I cells are the decoded
    files (IR as its channel mean) and the derivative cells follow from them by NumPy."""
    _, prefix, cfg = run_dir
    rows = pick_identities(training_samples(cfg.data), 3)
    assert [row[0] for row in rows] == sorted(row[0] for row in rows) and len(rows) == 3
    generator = restore_parts(cfg, prefix).nets["generator"]
    derived = ("rgb_derived", "ir_derived")
    columns, clipped = derivatives.derivative_columns(generator, rows, cfg.data, derived)
    rgb, ir = (
        np.stack([decode_image(row[i].path, row[i].modality).numpy() for row in rows])
        for i in (1, 2)
    )
    np.testing.assert_array_equal(columns["rgb"], rgb)
    np.testing.assert_array_equal(columns["ir"], ir)
    for name, images, derive_rgb in (("rgb_derived", rgb, True), ("ir_derived", ir, False)):
        expected = numpy_column(images, WEIGHTS, derive_rgb)
        np.testing.assert_allclose(columns[name], expected, atol=1, err_msg=name)
        assert np.abs(expected[..., 0] - expected[..., 1]).max() > 20  # not gray
    assert 0.0 < clipped < 1.0


def test_tool_writes_the_grid_and_prints_the_weights(run_dir):
    directory, prefix, _ = run_dir
    output = directory / "pictures" / "derivatives.png"
    (result,) = run_all(
        ("show_derivatives", "--config", str(directory / "config.yaml"), "--checkpoint", prefix,
         "--output", str(output), "--identities", "3"),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    with Image.open(output) as grid:
        assert grid.size == (2 * 16 + 4 * W, 16 + 3 * H)
    assert "E_V kernel [0.6 0.3 0.1] bias [0.2]" in result.stdout
    assert "G_S kernel [ 1.2  0.4 -0.5] bias [ 0.1 -0.3  0.2]" in result.stdout


def test_a_run_without_derivatives_is_a_config_error(run_dir):
    _, _, cfg = run_dir
    b2 = tiny_config(*config_overrides(cfg.data.root), "method.params.mdl_pairs=[V-I]")
    with pytest.raises(ConfigError, match=r"^b2.yaml: method.params.mdl_pairs names no deriv"):
        derivatives.check_config(b2, "b2.yaml")
    assert derivatives.check_config(cfg, "run.yaml") == ("rgb_derived", "ir_derived")


def test_user_errors_are_one_line(run_dir, tmp_path):
    """Another method's config is a config error (2), as is --identities 0; a missing
    checkpoint is another error (1)."""
    directory, _, _ = run_dir
    softmax = tmp_path / "softmax.yaml"
    softmax.write_text("method:\n  name: softmax\n")
    missing = str(tmp_path / "nothing")
    base = ("show_derivatives", "--output", str(tmp_path / "x.png"))
    config = str(directory / "config.yaml")
    softmax_run, missing_run, no_rows_run = run_all(
        (*base, "--config", str(softmax), "--checkpoint", "x"),
        (*base, "--config", config, "--checkpoint", missing),
        (*base, "--config", str(softmax), "--checkpoint", "x", "--identities", "0"),
    )
    assert_one_line_error(softmax_run, 2)
    assert last_line(softmax_run.stderr) == (
        f"error: {softmax}: method.name is 'softmax'; derivative images exist only in a "
        "'base_derivative' run"
    )
    assert_one_line_error(no_rows_run, 2)
    assert last_line(no_rows_run.stderr).startswith(
        "error: argument --identities: must be at least 1, got 0"
    )
    assert_one_line_error(missing_run, 1, missing)
    assert last_line(missing_run.stderr).startswith("error: checkpoint")
