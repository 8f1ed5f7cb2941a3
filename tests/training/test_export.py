"""SavedModel export: docs/design.md's signature, plain-TensorFlow reload, atomic replacement."""

import json
import os

import keras
import numpy as np
import pytest
from tools_harness import run_python

from tfreid.export import embedding_function, export_saved_model

# Runs in a fresh interpreter that cannot import tfreid or Keras: the SavedModel must load and
# run with TensorFlow alone.
RELOAD = """
import json, sys
sys.modules["tfreid"] = None
sys.modules["keras"] = None
import numpy as np
import tensorflow as tf

model_dir, inputs, outputs = sys.argv[1:]
signature = tf.saved_model.load(model_dir).signatures["serving_default"]
data = np.load(inputs)
result = signature(image=tf.constant(data["image"]), modality=tf.constant(data["modality"]))
np.save(outputs, result["embedding"].numpy())

def spec(s):
    return {"dtype": s.dtype.name, "shape": s.shape.as_list()}

print(json.dumps({
    "inputs": {k: spec(s) for k, s in signature.structured_input_signature[1].items()},
    "outputs": {k: spec(s) for k, s in signature.structured_outputs.items()},
}))
"""


def mixed_batch():
    """uint8 images of 40x24 (training size is 32x16), modalities mixed within the batch."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (5, 40, 24, 3), dtype=np.uint8)
    return image, np.array([1, 0, 0, 1, 1], np.int32)


@pytest.fixture(scope="module")
def exported(straight_run, tmp_path_factory):
    cfg, _, parts = straight_run
    path = os.path.join(tmp_path_factory.mktemp("export"), "saved_model")
    assert export_saved_model(parts, cfg.data, path) == path
    return path


def test_saved_model_reloads_with_plain_tensorflow_and_embeds_as_in_process(
    straight_run, exported, tmp_path
):
    cfg, _, parts = straight_run
    image, modality = mixed_batch()
    np.savez(tmp_path / "inputs.npz", image=image, modality=modality)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "KERAS_BACKEND")}
    result = run_python(
        "-c",
        RELOAD,
        exported,
        "inputs.npz",
        "embedding.npy",
        cwd=tmp_path,
        env={**env, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    signature = json.loads(result.stdout.strip().splitlines()[-1])
    dim = cfg.model.feature_dim
    assert signature == {
        "inputs": {
            "image": {"dtype": "uint8", "shape": [None, None, None, None]},
            "modality": {"dtype": "int32", "shape": [None]},
        },
        "outputs": {"embedding": {"dtype": "float32", "shape": [None, dim]}},
    }
    reloaded = np.load(tmp_path / "embedding.npy")
    in_process = embedding_function(parts, cfg.data)(image, modality).numpy()
    assert reloaded.shape == (len(image), dim)
    np.testing.assert_allclose(reloaded, in_process, rtol=1e-5, atol=1e-5)


def test_serving_function_routes_each_row_by_its_modality(straight_run):
    """The run's model (asymmetric FC, zero padding) depends on the modality, so a mixed batch
    must give each row what that row alone gives."""
    cfg, _, parts = straight_run
    image, modality = mixed_batch()
    embed = embedding_function(parts, cfg.data)
    mixed = embed(image, modality).numpy()
    for row in range(len(image)):
        alone = embed(image[row : row + 1], modality[row : row + 1]).numpy()[0]
        np.testing.assert_allclose(mixed[row], alone, rtol=1e-5, atol=1e-5)
    other = embed(image, 1 - modality).numpy()
    assert np.abs(other - mixed).max(axis=1).min() > 1e-4


def test_exporting_again_replaces_the_directory(straight_run, exported):
    cfg, _, parts = straight_run
    stale = os.path.join(exported, "stale.txt")
    with open(stale, "w") as f:
        f.write("from the first export")

    with pytest.raises(FileExistsError, match="already holds a SavedModel; pass --overwrite"):
        export_saved_model(parts, cfg.data, exported)
    assert os.path.exists(stale)
    export_saved_model(parts, cfg.data, exported, overwrite=True)

    assert not os.path.exists(stale)  # a new directory, not files written over the old one
    assert os.path.isfile(os.path.join(exported, "saved_model.pb"))
    # No staging or retired directories left beside it.
    assert os.listdir(os.path.dirname(exported)) == ["saved_model"]


def test_failed_export_keeps_the_previous_model(straight_run, exported, monkeypatch):
    cfg, _, parts = straight_run
    before = sorted(os.listdir(exported))

    def broken_write_out(filepath, **kwargs):
        os.makedirs(filepath, exist_ok=True)
        with open(os.path.join(filepath, "partial"), "w") as f:
            f.write("half written")
        raise OSError("disk full")

    make_archive = keras.export.ExportArchive  # a factory of the backend's archive class

    def broken_archive():
        archive = make_archive()
        archive.write_out = broken_write_out
        return archive

    monkeypatch.setattr(keras.export, "ExportArchive", broken_archive)
    with pytest.raises(OSError, match="disk full"):
        export_saved_model(parts, cfg.data, exported, overwrite=True)
    assert sorted(os.listdir(exported)) == before
    assert os.listdir(os.path.dirname(exported)) == ["saved_model"]


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_export_refuses_a_path_that_holds_anything_but_a_saved_model(straight_run, tmp_path, kind):
    cfg, _, parts = straight_run
    target = tmp_path / "target"
    if kind == "file":
        target.write_text("keep me")
    else:
        target.mkdir()
        (target / "notes.txt").write_text("keep me")
    for overwrite in (False, True):
        with pytest.raises(FileExistsError, match=f"{target} .*not a"):
            export_saved_model(parts, cfg.data, str(target), overwrite=overwrite)
    kept = target if kind == "file" else target / "notes.txt"
    assert kept.read_text() == "keep me"


def test_an_empty_folder_receives_the_saved_model(straight_run, tmp_path):
    cfg, _, parts = straight_run
    (tmp_path / "empty").mkdir()
    export_saved_model(parts, cfg.data, str(tmp_path / "empty"))
    assert os.path.isfile(tmp_path / "empty" / "saved_model.pb")


def test_the_saved_model_checks_its_inputs_and_takes_an_empty_batch(exported, straight_run):
    """Serving checks live in the SavedModel's function: a plain tf.saved_model.load user gets
    them too."""
    import tensorflow as tf

    cfg, _, _ = straight_run
    serve = tf.saved_model.load(exported).signatures["serving_default"]
    image, modality = mixed_batch()
    empty = serve(image=tf.constant(image[:0]), modality=tf.constant(modality[:0]))
    assert empty["embedding"].shape == (0, cfg.model.feature_dim)
    for bad in ([0, 2, 1, 0, 1], [0, -1, 1, 0, 1], [99] * 5):
        with pytest.raises(tf.errors.InvalidArgumentError, match="modality must be 0 .RGB. or 1"):
            serve(image=tf.constant(image), modality=tf.constant(bad, tf.int32))
    for wrong in ([0], [0, 1, 0, 1, 0, 1]):  # one value for the batch, one too many
        with pytest.raises(tf.errors.InvalidArgumentError, match="same batch size"):
            serve(image=tf.constant(image), modality=tf.constant(wrong, tf.int32))


def test_the_saved_model_names_a_wrong_channel_count_and_takes_gray_images(exported):
    """3 channels are RGB, 1 channel is gray (repeated, as the pipeline decodes a gray file);
    anything else is refused inside the signature, naming the count."""
    import tensorflow as tf

    serve = tf.saved_model.load(exported).signatures["serving_default"]
    image, modality = mixed_batch()
    gray = image[..., :1]
    as_gray = serve(image=tf.constant(gray), modality=tf.constant(modality))["embedding"]
    repeated = np.repeat(gray, 3, axis=-1)
    as_rgb = serve(image=tf.constant(repeated), modality=tf.constant(modality))["embedding"]
    np.testing.assert_array_equal(as_gray.numpy(), as_rgb.numpy())
    for channels in (2, 4):
        wrong = np.zeros((2, 8, 8, channels), np.uint8)
        with pytest.raises(
            tf.errors.InvalidArgumentError,
            match=rf"3 channels .RGB. or 1 .gray., got channels =\] \[{channels}\]",
        ):
            serve(image=tf.constant(wrong), modality=tf.constant([0, 1], tf.int32))


def test_the_loader_refuses_float_images_that_tensorflow_would_cast(exported):
    """A NumPy float array given to the signature is cast to uint8 by TensorFlow's argument
    conversion before the SavedModel runs ([0, 1] -> black); the loader refuses it first."""
    from tfreid.evaluation.features import saved_model_embed_fn

    embed = saved_model_embed_fn(exported)
    image, modality = mixed_batch()
    assert embed(image, modality).shape[0] == len(image)
    for bad in (image / 255.0, image.astype(np.float32), np.full(image.shape, np.nan)):
        with pytest.raises(ValueError, match=f"image must be uint8 .*got {bad.dtype}"):
            embed(bad, modality)
    with pytest.raises(ValueError, match="modality must be integers.*got float64"):
        embed(image, modality.astype(np.float64))
