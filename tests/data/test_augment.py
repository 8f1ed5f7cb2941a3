import numpy as np
import pytest
import tensorflow as tf

from tfreid.config import DataConfig
from tfreid.data import augment

H, W = 32, 16
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


def _image(seed=0, low=1.0):
    rng = np.random.default_rng(seed)
    return rng.uniform(low, 255.0, (H, W, 3)).astype(np.float32)


def _seed(i):
    return tf.constant([7, i], tf.int64)


def test_normalize_matches_numpy():
    x = _image()
    expected = (x / 255.0 - np.array(MEAN)) / np.array(STD)
    np.testing.assert_allclose(augment.normalize(x, MEAN, STD), expected, rtol=1e-5, atol=1e-5)
    batch = np.stack([x, x[::-1]])
    out = augment.normalize(tf.constant(batch, tf.uint8), MEAN, STD)
    assert out.dtype == tf.float32 and out.shape == (2, H, W, 3)


def test_normalize_rejects_bad_statistics():
    with pytest.raises(ValueError, match="3 channel values"):
        augment.normalize(_image(), [0.5, 0.5], STD)
    with pytest.raises(ValueError, match="positive"):
        augment.normalize(_image(), MEAN, [0.2, 0.0, 0.2])


def test_resize_shape_and_identity_at_same_size():
    x = _image()
    np.testing.assert_allclose(augment.resize(x, H, W), x, atol=1e-4)
    out = augment.resize(tf.constant(np.stack([x, x]), tf.uint8), 16, 8)
    assert out.shape == (2, 16, 8, 3) and out.dtype == tf.float32
    # A constant image stays constant.
    np.testing.assert_allclose(augment.resize(np.full((50, 30, 3), 9.0), H, W), 9.0, atol=1e-4)


def test_pad_and_random_crop_is_a_window_of_the_padded_image():
    x = _image()
    pad = 3
    padded = np.pad(x, [(pad, pad), (pad, pad), (0, 0)])
    offsets = set()
    for i in range(40):
        out = augment.pad_and_random_crop(tf.constant(x), pad, _seed(i)).numpy()
        matches = [
            (dy, dx)
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
            if np.array_equal(out, padded[dy : dy + H, dx : dx + W])
        ]
        assert len(matches) == 1
        offsets.add(matches[0])
        again = augment.pad_and_random_crop(tf.constant(x), pad, _seed(i)).numpy()
        np.testing.assert_array_equal(out, again)
    assert len(offsets) > 10


def test_random_flip_mirrors_about_half_the_time():
    x = _image()
    flipped = 0
    for i in range(100):
        out = augment.random_flip(tf.constant(x), _seed(i)).numpy()
        if np.array_equal(out, x[:, ::-1]):
            flipped += 1
        else:
            np.testing.assert_array_equal(out, x)
    assert 30 < flipped < 70


def _erasing_reference(x, probability, seed, area, aspect, attempts=100):
    """Zhong et al.'s loop in NumPy, fed the same uniforms the TF version draws."""
    apply_seed, shape_seed, place_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 3))
    if tf.random.stateless_uniform([], apply_seed).numpy() >= probability:
        return x
    u = tf.random.stateless_uniform([attempts, 2], shape_seed).numpy()
    v = tf.random.stateless_uniform([2], place_seed).numpy()
    height, width = x.shape[:2]
    for a, r in u:
        target = (area[0] + a * (area[1] - area[0])) * height * width
        ratio = aspect[0] + r * (aspect[1] - aspect[0])
        h = int(np.round(np.sqrt(target * ratio)))
        w = int(np.round(np.sqrt(target / ratio)))
        if h < height and w < width:
            top = int(v[0] * (height - h + 1))
            left = int(v[1] * (width - w + 1))
            out = x.copy()
            out[top : top + h, left : left + w] = 0.0
            return out
    return x


@pytest.mark.parametrize("area", [augment.ERASING_AREA, (0.5, 0.9)])
def test_random_erasing_matches_reference_loop(area):
    x = _image()
    erased = 0
    for i in range(40):
        out = augment.random_erasing(tf.constant(x), 0.5, _seed(i), area=area).numpy()
        expected = _erasing_reference(x, 0.5, _seed(i), area, augment.ERASING_ASPECT)
        np.testing.assert_allclose(out, expected, atol=1e-6)
        erased += not np.array_equal(out, x)
    assert 8 < erased < 32


def test_random_erasing_always_erases_one_rectangle_of_zeros_with_probability_one():
    x = _image(low=1.0)  # no zeros before erasing
    for i in range(30):
        out = augment.random_erasing(tf.constant(x), 1.0, _seed(i)).numpy()
        zero = np.all(out == 0.0, axis=-1)
        rows, cols = np.nonzero(zero)
        assert rows.size > 0
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert zero.sum() == h * w  # one filled rectangle
        assert h < H and w < W
        assert 0.02 * H * W * 0.5 <= h * w <= 0.4 * H * W * 1.5  # rounding of h and w
        np.testing.assert_array_equal(out[~zero], x[~zero])


def test_random_erasing_with_probability_zero_is_identity():
    x = _image()
    for i in range(10):
        np.testing.assert_array_equal(augment.random_erasing(tf.constant(x), 0.0, _seed(i)), x)


def test_train_augment_without_randomness_only_normalises():
    cfg = DataConfig(height=H, width=W, pad=0, flip=False, erasing_prob=0.0)
    x = _image()
    out = augment.train_augment(tf.constant(x), cfg, _seed(0))
    np.testing.assert_allclose(out, (x / 255.0 - np.array(MEAN)) / np.array(STD), atol=1e-5)


def test_train_augment_is_deterministic_per_seed():
    cfg = DataConfig(height=H, width=W, pad=4, flip=True, erasing_prob=0.5)
    x = tf.constant(_image())
    first = [augment.train_augment(x, cfg, _seed(i)).numpy() for i in range(6)]
    again = [augment.train_augment(x, cfg, _seed(i)).numpy() for i in range(6)]
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(first[0], other) for other in first[1:])
