import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from tfreid.config import DataConfig
from tfreid.data import pipeline
from tfreid.data.samples import IR, RGB, Sample

H, W = 32, 16
P, K = 2, 2
MEAN = np.array([0.485, 0.456, 0.406])
STD = np.array([0.229, 0.224, 0.225])


def _save(path, pixels):
    Image.fromarray(pixels).save(path)
    return str(path)


@pytest.fixture(scope="module")
def samples(tmp_path_factory):
    """4 ids; RGB as 3-channel PNG/BMP/JPEG, IR as 1-channel PNG/BMP plus one 3-channel PNG."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    samples = []
    for pid in range(4):
        for j in range(3):
            ext = ("png", "bmp", "jpg")[j]
            pixels = rng.integers(1, 255, (H, W, 3), dtype=np.uint8)
            samples.append(Sample(_save(root / f"{pid}_rgb_{j}.{ext}", pixels), 10 + pid, 1, RGB))
        for j in range(2 + pid % 2):
            pixels = rng.integers(1, 255, (H, W), dtype=np.uint8)
            if j == 2:
                pixels = np.stack([pixels, pixels, 255 - pixels], axis=-1)
            ext = ("png", "bmp", "png")[j]
            samples.append(Sample(_save(root / f"{pid}_ir_{j}.{ext}", pixels), 10 + pid, 3, IR))
    return samples


def _pixels(sample):
    """The independent reference: Pillow's pixels, IR as the channel mean in 3 channels."""
    pixels = np.asarray(Image.open(sample.path).convert("RGB")).astype(np.float64)
    if sample.modality == IR:
        pixels = np.repeat(np.round(pixels.mean(-1, keepdims=True)), 3, -1)
    return pixels


def _cfg(**kwargs):
    values = dict(height=H, width=W, identities_per_batch=P, images_per_identity=K)
    values.update(kwargs)
    return DataConfig(**values)


def _batches(samples, cfg, count, **kwargs):
    kwargs.setdefault("seed", 1)
    ds = pipeline.train_dataset(samples, cfg, **kwargs)
    return [tf.nest.map_structure(lambda t: t.numpy(), b) for b in ds.take(count)]


def _find(samples, path_pixels, image, pid, modality, transform):
    """Which same-identity, same-modality files produce `image` under `transform`."""
    return [
        i
        for i, s in enumerate(samples)
        if s.pid == pid
        and s.modality == modality
        and np.allclose(transform(path_pixels[i]), image, atol=_tolerance(s))
    ]


def _tolerance(sample):
    """JPEG decoders differ by a few levels (IDCT rounding); others decode exactly."""
    return 4 / 255 / STD.min() + 1e-4 if sample.path.endswith(".jpg") else 1e-4


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("ext", ["png", "bmp", "jpg"])
def test_decode_image_formats(tmp_path, channels, ext):
    shape = (H, W, 3) if channels == 3 else (H, W)
    pixels = np.random.default_rng(1).integers(0, 256, shape, dtype=np.uint8)
    path = _save(tmp_path / f"x.{ext}", pixels)
    expected = np.asarray(Image.open(path).convert("RGB")).astype(int)
    image = pipeline.decode_image(tf.constant(path), RGB).numpy()
    assert image.shape == (H, W, 3) and image.dtype == np.uint8
    tolerance = 4 if ext == "jpg" else 0  # JPEG decoders differ in their IDCT rounding
    assert np.abs(image.astype(int) - expected).max() <= tolerance
    if channels == 1:
        assert (image == image[..., :1]).all()
    ir = pipeline.decode_image(tf.constant(path), IR).numpy()
    assert (ir == ir[..., :1]).all()
    np.testing.assert_array_equal(ir[..., 0], np.round(image.astype(float).mean(-1)))


def test_decode_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image at all")
    with pytest.raises(tf.errors.InvalidArgumentError, match="bad.png"):
        pipeline.decode_image(tf.constant(str(bad)), RGB)
    with pytest.raises(tf.errors.NotFoundError, match="missing.png"):
        pipeline.decode_image(tf.constant(str(tmp_path / "missing.png")), RGB)


def test_train_batches_shapes_labels_and_plain_images(samples):
    cfg = _cfg(pad=0, flip=False, erasing_prob=0.0)
    reference = [_pixels(s) for s in samples]
    assert pipeline.training_pids(samples) == [10, 11, 12, 13]
    for batch in _batches(samples, cfg, 3):
        np.testing.assert_array_equal(batch["rgb"]["pid"], batch["ir"]["pid"])
        for key, modality in (("rgb", RGB), ("ir", IR)):
            part = batch[key]
            assert part["image"].shape == (P * K, H, W, 3) and part["image"].dtype == np.float32
            assert part["pid"].dtype == np.int32 and part["camid"].dtype == np.int32
            np.testing.assert_array_equal(part["camid"], [1 + 2 * modality] * (P * K))
            for image, label in zip(part["image"], part["pid"], strict=True):
                found = _find(
                    samples,
                    reference,
                    image,
                    10 + label,
                    modality,
                    lambda x: (x / 255.0 - MEAN) / STD,
                )
                assert found, f"{key} image of label {label} matches no file of that identity"
                if modality == IR:  # 3 equal channels before normalisation
                    pixels_of_image = (image * STD + MEAN) * 255
                    np.testing.assert_allclose(
                        pixels_of_image, pixels_of_image[..., :1].repeat(3, -1), atol=1e-3
                    )


def test_train_images_are_resized(samples, tmp_path):
    small = [
        s._replace(
            path=_save(
                tmp_path / f"{i}.png",
                np.asarray(Image.open(s.path).convert("RGB").resize((W // 2, H // 2))),
            )
        )
        for i, s in enumerate(samples)
    ]
    cfg = _cfg(pad=0, flip=False, erasing_prob=0.0)
    pixels = [_pixels(s) for s in small]
    batch = _batches(small, cfg, 1)[0]
    for image, label in zip(batch["rgb"]["image"], batch["rgb"]["pid"], strict=True):

        def resized(x):
            x = tf.image.resize(x, (H, W), "bilinear", antialias=True).numpy()
            return (x / 255.0 - MEAN) / STD

        assert _find(small, pixels, image, 10 + label, RGB, resized)


def test_augmented_images_stay_in_the_normalised_range(samples):
    cfg = _cfg(pad=4, flip=True, erasing_prob=0.5)
    for batch in _batches(samples, cfg, 3):
        for key in ("rgb", "ir"):
            images = batch[key]["image"]
            assert (images >= (0 - MEAN) / STD - 1e-5).all()
            assert (images <= (1 - MEAN) / STD + 1e-5).all()


def test_flip_crop_and_erasing(samples):
    pixels = [_pixels(s) for s in samples]

    def check(cfg, transforms):
        for batch in _batches(samples, cfg, 2):
            for image, label in zip(batch["rgb"]["image"], batch["rgb"]["pid"], strict=True):
                assert any(_find(samples, pixels, image, 10 + label, RGB, t) for t in transforms)

    def norm(x):
        return (x / 255.0 - MEAN) / STD

    check(_cfg(pad=0, flip=True, erasing_prob=0.0), [norm, lambda x: norm(x[:, ::-1])])
    pad = 2
    check(
        _cfg(pad=pad, flip=False, erasing_prob=0.0),
        [
            lambda x, dy=dy, dx=dx: norm(
                np.pad(x, [(pad, pad), (pad, pad), (0, 0)])[dy : dy + H, dx : dx + W]
            )
            for dy in range(2 * pad + 1)
            for dx in range(2 * pad + 1)
        ],
    )
    for batch in _batches(samples, _cfg(pad=0, flip=False, erasing_prob=1.0), 2):
        for image, label in zip(batch["rgb"]["image"], batch["rgb"]["pid"], strict=True):
            zero = np.all(image == 0.0, axis=-1)
            assert zero.any()
            rows, cols = np.nonzero(zero)
            assert zero.sum() == (np.ptp(rows) + 1) * (np.ptp(cols) + 1)

            def erased(x, zero=zero):
                return np.where(zero[..., None], 0.0, norm(x))

            assert _find(samples, pixels, image, 10 + label, RGB, erased)


def test_same_seed_same_batches_other_seed_differs(samples):
    cfg = _cfg(pad=2, flip=True, erasing_prob=0.5)
    first, again = _batches(samples, cfg, 3, seed=4), _batches(samples, cfg, 3, seed=4)
    other = _batches(samples, cfg, 3, seed=5)
    tf.nest.map_structure(np.testing.assert_array_equal, first, again)
    assert any(
        not np.array_equal(a["rgb"]["image"], b["rgb"]["image"])
        for a, b in zip(first, other, strict=True)
    )


def test_start_step_gives_the_later_batches_exactly(samples):
    cfg = _cfg(pad=2, flip=True, erasing_prob=0.5)  # 2 steps per epoch
    full = _batches(samples, cfg, 5)
    resumed = _batches(samples, cfg, 2, start_step=3)
    tf.nest.map_structure(np.testing.assert_array_equal, full[3:5], resumed)


def test_replica_batches_concatenate_to_the_global_batch(samples):
    cfg = _cfg(pad=2, flip=True, erasing_prob=0.5)
    single = _batches(samples, cfg, 2)
    context = tf.distribute.InputContext(num_replicas_in_sync=2)
    split = _batches(samples, cfg, 4, input_context=context)
    for step, whole in enumerate(single):
        pair = split[2 * step : 2 * step + 2]
        assert pair[0]["rgb"]["image"].shape == (P * K // 2, H, W, 3)
        assert pair[0]["rgb"]["pid"][0] != pair[1]["rgb"]["pid"][0]
        merged = tf.nest.map_structure(lambda a, b: np.concatenate([a, b]), *pair)
        tf.nest.map_structure(np.testing.assert_array_equal, merged, whole)


def test_mirrored_strategy_hands_consecutive_groups_to_replicas(samples):
    cfg = _cfg(pad=2, flip=True, erasing_prob=0.5)
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    single = _batches(samples, cfg, 2)
    distributed = strategy.distribute_datasets_from_function(
        lambda context: pipeline.train_dataset(samples, cfg, seed=1, input_context=context)
    )
    for whole, per_replica in zip(single, distributed, strict=False):
        parts = strategy.experimental_local_results(per_replica)
        parts = [tf.nest.map_structure(lambda t: t.numpy(), p) for p in parts]
        merged = tf.nest.map_structure(lambda a, b: np.concatenate([a, b]), *parts)
        tf.nest.map_structure(np.testing.assert_array_equal, merged, whole)


def test_too_few_eligible_identities(samples):
    with pytest.raises(ValueError, match="only 4 identities have both RGB and IR"):
        pipeline.train_dataset(samples, _cfg(identities_per_batch=5), seed=0)


def test_eval_dataset_keeps_order_and_pixels(samples):
    batches = list(pipeline.eval_dataset(samples, _cfg(), batch_size=7))
    assert [len(b["modality"]) for b in batches] == [7] * (len(samples) // 7) + [len(samples) % 7]
    images = np.concatenate([b["image"].numpy() for b in batches])
    modalities = np.concatenate([b["modality"].numpy() for b in batches])
    assert images.dtype == np.uint8 and modalities.dtype == np.int32
    np.testing.assert_array_equal(modalities, [s.modality for s in samples])
    for image, sample in zip(images, samples, strict=True):
        tolerance = 4 if sample.path.endswith(".jpg") else 0
        assert np.abs(image.astype(float) - _pixels(sample)).max() <= tolerance


def test_eval_dataset_resizes_to_uint8(samples):
    image = next(iter(pipeline.eval_dataset(samples[:1], _cfg(height=20, width=10), 4)))["image"]
    expected = tf.image.resize(_pixels(samples[0])[None], (20, 10), antialias=True).numpy()
    assert image.dtype == tf.uint8 and image.shape == (1, 20, 10, 3)
    assert np.abs(image.numpy() - np.round(expected)).max() <= 4  # the JPEG/PNG pixel tolerance
