"""ONNX and LiteRT exports of the quickstart model: parity-checked by the export, then served
by onnxruntime and the LiteRT interpreter against the SavedModel; a mismatch is refused."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tools_harness import assert_one_line_error, run_all

from tfreid.config import save_config
from tfreid.export import export_saved_model
from tfreid.exporting import checked, parity
from tfreid.exporting.checked import export_checked, report_path
from tfreid.exporting.runtimes import litert_embed_fn
from tfreid.training.loop import restore_parts


def served_images(seed=0):
    """Mixed modalities at two sizes other than the model's 32x16."""
    rng = np.random.default_rng(seed)
    modality = np.array([0, 1, 1, 0], np.int32)
    return [
        (rng.integers(0, 256, (4, *size, 3), dtype=np.uint8), modality)
        for size in ((48, 20), (20, 12))
    ]


def saved_model_fn(cfg, checkpoint, directory):
    path = export_saved_model(
        restore_parts(cfg, checkpoint), cfg.data, os.path.join(directory, "sm")
    )
    signature = tf.saved_model.load(path).signatures["serving_default"]
    return lambda image, modality: signature(image=image, modality=modality)["embedding"].numpy()


def assert_serves_like_the_saved_model(serve, reference, bound):
    for image, modality in served_images():
        got, expected = serve(image, modality), reference(image, modality)
        cosine = (
            (got * expected).sum(1) / np.linalg.norm(got, axis=1) / np.linalg.norm(expected, axis=1)
        )
        assert cosine.min() >= bound, cosine
    nan_row = serve(image[:2], np.array([0, 2], np.int32))
    assert np.isfinite(nan_row[0]).all() and np.isnan(nan_row[1]).all()  # modality 2: NaN


def expected_bound(report):
    same = report["precision"]["reference"] == report["precision"]["export"]
    return parity.MIN_COSINE if same else parity.MIN_COSINE_BFLOAT16


def test_onnx_export_passes_its_parity_check_and_serves_in_onnxruntime(quickstart_run, tmp_path):
    import onnxruntime

    cfg, checkpoint = quickstart_run
    output = str(tmp_path / "model.onnx")
    report = export_checked(cfg, checkpoint, "onnx", output, overwrite=False)
    assert report["bound"] == expected_bound(report)
    assert report["min_cosine"] >= report["bound"] and report["embeddings_compared"] == 24
    assert json.loads(open(report_path(output)).read()) == report
    session = onnxruntime.InferenceSession(output, providers=["CPUExecutionProvider"])

    def serve(image, modality):
        return session.run(["embedding"], {"image": image, "modality": modality})[0]

    assert_serves_like_the_saved_model(
        serve, saved_model_fn(cfg, checkpoint, tmp_path), report["bound"]
    )
    with pytest.raises(Exception, match="expected: \\(tensor\\(uint8\\)\\)"):
        serve(served_images()[0][0] / 255.0, served_images()[0][1])
    assert sorted(os.listdir(tmp_path)) == ["model.onnx", "model.onnx.parity.json", "sm"]


def test_tools_export_writes_a_litert_model_the_interpreter_serves(quickstart_run, tmp_path):
    from ai_edge_litert.interpreter import Interpreter

    cfg, checkpoint = quickstart_run
    config = str(tmp_path / "config.yaml")
    save_config(cfg, config)
    output = str(tmp_path / "model.tflite")
    tool = ("export", "--config", config, "--checkpoint", checkpoint, "--output", output)
    done, wrong_extension = run_all((*tool, "--format", "tflite"), (*tool, "--format", "onnx"))
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(open(report_path(output)).read())
    assert f"min cosine {report['min_cosine']:.6f} (bound {report['bound']})" in done.stdout
    assert "XNNPACK" not in done.stderr
    assert_one_line_error(wrong_extension, 2, "--format onnx writes a .onnx file")
    runner = Interpreter(model_path=output).get_signature_runner("serving_default")

    def serve(image, modality):
        return runner(image=image, modality=modality)["embedding"]

    assert_serves_like_the_saved_model(
        serve, saved_model_fn(cfg, checkpoint, tmp_path), report["bound"]
    )
    with pytest.raises(ValueError, match="UINT8"):
        serve(served_images()[0][0].astype(np.float32), served_images()[0][1])
    tfreid_runner = litert_embed_fn(output)  # what the parity check ran
    assert tfreid_runner(np.zeros((0, 8, 8, 3), np.uint8), np.zeros(0, np.int32)).shape[0] == 0
    with pytest.raises(ValueError, match=r"\[batch, height, width, 3\], got shape \(1, 8, 8, 4\)"):
        tfreid_runner(np.zeros((1, 8, 8, 4), np.uint8), np.zeros(1, np.int32))


def test_a_mismatching_export_is_refused_and_nothing_is_touched(
    quickstart_run, tmp_path, monkeypatch
):
    """An export whose embeddings drift (simulated: the served ones, rotated a little) stops
    with the figures; the file it replaced with --overwrite and its report stay as they were."""
    cfg, checkpoint = quickstart_run
    output = tmp_path / "model.onnx"
    output.write_bytes(b"the user's previous export")
    (tmp_path / "model.onnx.parity.json").write_text("{}")

    def fake_writer(function, path):
        with open(path, "wb") as f:
            f.write(b"an export that drifts")

    def drifting(path):
        assert open(path, "rb").read() == b"an export that drifts"
        reference = saved_model_fn(cfg, checkpoint, tmp_path / "ref")
        return lambda image, modality: np.roll(reference(image, modality), 1, axis=1) + 0.5

    monkeypatch.setattr(checked, "write_onnx", fake_writer)
    monkeypatch.setitem(checked.EMBED_FNS, "onnx", drifting)
    with pytest.raises(
        parity.ParityError, match="the ONNX model differs from the SavedModel .* min cosine"
    ):
        export_checked(cfg, checkpoint, "onnx", str(output), overwrite=True)
    assert output.read_bytes() == b"the user's previous export"
    assert (tmp_path / "model.onnx.parity.json").read_text() == "{}"
    assert sorted(os.listdir(tmp_path)) == ["model.onnx", "model.onnx.parity.json", "ref"]


def test_the_saved_model_format_is_checked_against_the_model_in_process(quickstart_run, tmp_path):
    cfg, checkpoint = quickstart_run
    report = export_checked(cfg, checkpoint, "savedmodel", str(tmp_path / "sm"), overwrite=False)
    assert report["bound"] == parity.MIN_COSINE and report["min_cosine"] >= parity.MIN_COSINE
    assert tf.saved_model.contains_saved_model(str(tmp_path / "sm"))
    with pytest.raises(FileExistsError, match="already holds a SavedModel; pass --overwrite"):
        export_checked(cfg, checkpoint, "savedmodel", str(tmp_path / "sm"), overwrite=False)
    (tmp_path / "new.parity.json").write_text("someone's notes")
    with pytest.raises(FileExistsError, match="new.parity.json already exists; pass --overwrite"):
        export_checked(cfg, checkpoint, "savedmodel", str(tmp_path / "new"), overwrite=False)


def test_the_bfloat16_bound_holds_for_the_quickstart_model(quickstart_run):
    """The checkpoint computed in bfloat16 (what a bfloat16 run's SavedModel serves) against
    the float32 portable graph the ONNX and LiteRT files are made of: visibly different,
    within the bfloat16 bound."""
    import dataclasses

    from tfreid.export import embedding_function
    from tfreid.exporting.portable import float32_config, portable_function

    cfg, checkpoint = quickstart_run
    bf16 = dataclasses.replace(
        cfg, train=dataclasses.replace(cfg.train, mixed_precision="bfloat16")
    )
    reference = embedding_function(restore_parts(bf16, checkpoint), cfg.data)
    portable = portable_function(restore_parts(float32_config(cfg), checkpoint), cfg.data)
    samples = parity.parity_samples(cfg.data)
    report = parity.compare(reference, lambda i, m: portable(i, m)["embedding"], samples, cfg.data)
    assert parity.MIN_COSINE_BFLOAT16 <= report["min_cosine"] < 1 - 1e-7, report["min_cosine"]
