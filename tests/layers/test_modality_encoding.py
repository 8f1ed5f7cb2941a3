"""ModalityInputEncoding: the ICCV 2017 input structures, checked against NumPy."""

import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test

from tfreid.layers import ModalityInputEncoding, encoding_channels

MODALITY = np.array([0, 1, 0, 1], dtype="int32")
IMAGES = np.random.default_rng(0).normal(size=(4, 8, 4, 3)).astype("float32")


def numpy_gray(images):
    return 0.299 * images[..., 0] + 0.587 * images[..., 1] + 0.114 * images[..., 2]


def numpy_encoding(encoding, images, modality, high=1.0, low=0.0):
    gray = numpy_gray(images)
    ones = np.ones_like(gray)
    channels = []
    for image_gray, image, is_ir in zip(gray, images, modality == 1, strict=True):
        if encoding == "rgb3":
            channels.append(image)
            continue
        per_channel = {
            "gray": [image_gray],
            "zero_padding": [0 * image_gray, image_gray] if is_ir else [image_gray, 0 * image_gray],
            "domain_indicator": [image_gray, low * ones[0], high * ones[0]]
            if is_ir
            else [image_gray, high * ones[0], low * ones[0]],
        }[encoding]
        channels.append(np.stack(per_channel, axis=-1))
    return np.stack(channels)


@pytest.mark.parametrize("encoding", ["rgb3", "gray", "zero_padding", "domain_indicator"])
def test_layer_harness(encoding):
    run_layer_test(
        ModalityInputEncoding,
        init_kwargs={"encoding": encoding, "high": 2.5, "low": -1.5},
        input_data=[IMAGES, MODALITY],
        expected_output_shape=(4, 8, 4, encoding_channels(encoding)),
    )


@pytest.mark.parametrize("encoding", ["rgb3", "gray", "zero_padding", "domain_indicator"])
def test_values_match_numpy(encoding):
    layer = ModalityInputEncoding(encoding, high=2.5, low=-1.5)
    expected = numpy_encoding(encoding, IMAGES, MODALITY, high=2.5, low=-1.5)
    np.testing.assert_allclose(layer([IMAGES, MODALITY]), expected, rtol=1e-6, atol=1e-6)


def test_hand_worked_pixels():
    """RGB pixel (1, 0, 0) has luminance 0.299; an IR pixel of 3 equal values v has v."""
    images = np.array([[[[1.0, 0.0, 0.0]]], [[[2.0, 2.0, 2.0]]]], "float32")
    modality = np.array([0, 1], "int32")
    zero_padding = ModalityInputEncoding("zero_padding")([images, modality])
    np.testing.assert_allclose(zero_padding[:, 0, 0], [[0.299, 0.0], [0.0, 2.0]], rtol=1e-6)
    indicator = ModalityInputEncoding("domain_indicator")([images, modality])
    np.testing.assert_allclose(indicator[:, 0, 0], [[0.299, 1.0, 0.0], [2.0, 0.0, 1.0]], rtol=1e-6)


def test_unbatched_image_in_tf_data():
    layer = ModalityInputEncoding("zero_padding")
    dataset = tf.data.Dataset.from_tensor_slices((IMAGES, MODALITY)).map(
        lambda image, modality: layer([image, modality])
    )
    expected = numpy_encoding("zero_padding", IMAGES, MODALITY)
    np.testing.assert_allclose(np.stack(list(dataset)), expected, rtol=1e-6, atol=1e-6)


def test_encoding_channels():
    channels = {name: encoding_channels(name) for name in ("rgb3", "gray", "zero_padding")}
    assert channels == {"rgb3": 3, "gray": 1, "zero_padding": 2}
    assert encoding_channels("domain_indicator") == 3


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="'grey'.*'rgb3', 'gray', 'zero_padding'"):
        ModalityInputEncoding("grey")
    with pytest.raises(ValueError, match="'grey'"):
        encoding_channels("grey")
    with pytest.raises(ValueError, match=r"images \(4, 8, 4, 1\)"):
        ModalityInputEncoding("gray")([IMAGES[..., :1], MODALITY])
    with pytest.raises(ValueError, match="list of 2"):
        ModalityInputEncoding("gray")(IMAGES)
