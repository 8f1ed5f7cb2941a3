import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from scipy.spatial.distance import cdist

from tfreid.config import DataConfig
from tfreid.data.samples import IR, RGB, Sample
from tfreid.evaluation.features import distance, extract_features, saved_model_embed_fn

H, W, D = 8, 4, 5


def write_images(tmp_path, count=7):
    """Random PNGs already at H x W (so resizing keeps every pixel); IR ones single-channel."""
    rng = np.random.default_rng(0)
    samples = []
    for i in range(count):
        modality = IR if i % 3 == 0 else RGB
        pixels = rng.integers(0, 256, (H, W, 3), dtype=np.uint8)
        path = str(tmp_path / f"{i}.png")
        if modality == IR:
            pixels = np.repeat(pixels[..., :1], 3, axis=-1)
            Image.fromarray(pixels[..., 0]).save(path)
        else:
            Image.fromarray(pixels).save(path)
        samples.append((Sample(path, i, 1, modality), pixels))
    return [s for s, _ in samples], np.stack([p for _, p in samples])


PROJECTION = np.random.default_rng(1).normal(size=(H * W * 3, D))


def numpy_embed(images, modality):
    """The reference: a fixed projection of the flattened image, plus an offset for IR."""
    flat = images.reshape(len(images), -1).astype(np.float64)
    return (flat @ PROJECTION + 100.0 * modality[:, None]).astype(np.float32)


def make_embed_fn(trace_counter=None):
    projection = tf.constant(PROJECTION, tf.float64)

    @tf.function
    def embed(images, modality):
        if trace_counter is not None:
            trace_counter.append(images.shape)
        flat = tf.reshape(tf.cast(images, tf.float64), [tf.shape(images)[0], -1])
        offset = 100.0 * tf.cast(modality, tf.float64)[:, None]
        return tf.cast(flat @ projection + offset, tf.float32)

    return embed


def data_cfg():
    return DataConfig(height=H, width=W)


def test_features_match_numpy_in_sample_order(tmp_path):
    samples, pixels = write_images(tmp_path)
    modality = np.array([s.modality for s in samples])
    got = extract_features(make_embed_fn(), samples, data_cfg(), batch_size=3, progress=False)
    assert got.dtype == np.float32 and got.shape == (len(samples), D)
    np.testing.assert_allclose(got, numpy_embed(pixels, modality), rtol=1e-6)


def test_flip_is_the_mean_with_the_mirror(tmp_path):
    samples, pixels = write_images(tmp_path)
    modality = np.array([s.modality for s in samples])
    got = extract_features(
        make_embed_fn(), samples, data_cfg(), batch_size=4, flip=True, progress=False
    )
    expected = (numpy_embed(pixels, modality) + numpy_embed(pixels[:, :, ::-1], modality)) / 2
    np.testing.assert_allclose(got, expected, rtol=1e-6)
    plain = extract_features(make_embed_fn(), samples, data_cfg(), progress=False)
    assert not np.allclose(got, plain)


def test_one_trace_for_all_batch_sizes(tmp_path):
    samples, _ = write_images(tmp_path)
    traces = []
    extract_features(make_embed_fn(traces), samples, data_cfg(), batch_size=3, progress=False)
    assert len(traces) == 1  # batches of 3, 3 and 1 images


def test_embed_fn_must_return_float32_rank_2(tmp_path):
    samples, _ = write_images(tmp_path, count=2)
    bad = tf.function(lambda images, modality: tf.cast(images, tf.float16))
    with pytest.raises(ValueError, match="float32 \\[batch, dim\\]"):
        extract_features(bad, samples, data_cfg(), progress=False)


class Exported(tf.Module):
    def __init__(self):
        super().__init__()
        self.projection = tf.Variable(PROJECTION, dtype=tf.float64)

    @tf.function(
        input_signature=[
            tf.TensorSpec([None, None, None, 3], tf.uint8, name="image"),
            tf.TensorSpec([None], tf.int32, name="modality"),
        ]
    )
    def serve(self, image, modality):
        flat = tf.reshape(tf.cast(image, tf.float64), [tf.shape(image)[0], -1])
        offset = 100.0 * tf.cast(modality, tf.float64)[:, None]
        return {"embedding": tf.cast(flat @ self.projection + offset, tf.float32)}


def test_saved_model_embed_fn(tmp_path):
    samples, pixels = write_images(tmp_path)
    module = Exported()
    export_dir = str(tmp_path / "saved_model")
    tf.saved_model.save(module, export_dir, signatures={"serving_default": module.serve})
    del module
    embed_fn = saved_model_embed_fn(export_dir)
    got = extract_features(embed_fn, samples, data_cfg(), batch_size=4, progress=False)
    modality = np.array([s.modality for s in samples])
    np.testing.assert_allclose(got, numpy_embed(pixels, modality), rtol=1e-6)


def test_saved_model_embed_fn_errors(tmp_path):
    with pytest.raises(ValueError, match="not a SavedModel directory"):
        saved_model_embed_fn(str(tmp_path))
    module = Exported()
    tf.saved_model.save(module, str(tmp_path / "other"), signatures={"other": module.serve})
    with pytest.raises(ValueError, match="no 'serving_default' signature"):
        saved_model_embed_fn(str(tmp_path / "other"))


def test_distances_against_scipy():
    rng = np.random.default_rng(2)
    q, g = rng.normal(size=(4, 6)), rng.normal(size=(5, 6))
    np.testing.assert_allclose(distance(q, g, "euclidean"), cdist(q, g), atol=1e-12)
    unit_q = q / np.linalg.norm(q, axis=1, keepdims=True)
    unit_g = g / np.linalg.norm(g, axis=1, keepdims=True)
    cosine = distance(q, g, "cosine")
    np.testing.assert_allclose(cosine, cdist(unit_q, unit_g), atol=1e-12)
    np.testing.assert_allclose(cosine**2, 2 - 2 * (1 - cdist(q, g, "cosine")), atol=1e-12)
    np.testing.assert_allclose(distance(q, 3.0 * q, "cosine"), distance(q, q, "cosine"))
    assert np.all(np.diag(distance(q, q, "cosine")) < 1e-6)


def test_distance_errors():
    with pytest.raises(ValueError, match="'manhattan'"):
        distance(np.ones((1, 2)), np.ones((1, 2)), "manhattan")
    with pytest.raises(ValueError, match="\\(2, 3\\)"):
        distance(np.ones((2, 3)), np.ones((1, 2)))
    with pytest.raises(ValueError, match="gallery embedding 1 is all zeros"):
        distance(np.ones((1, 2)), np.array([[1.0, 0.0], [0.0, 0.0]]))
