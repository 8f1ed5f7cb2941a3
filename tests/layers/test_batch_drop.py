"""BatchDrop: BDB's one block per batch (Dai et al., ICCV 2019), in training only."""

import keras
import numpy as np
import pytest
import tensorflow as tf
from harness import run_layer_test
from method_harness import strategies

from tfreid.layers.batch_drop import BatchDrop


def dropped(layer, x):
    """bool [B, H, W, C]: where a training call zeroed a map of ones."""
    return layer(x, training=True).numpy() == 0.0


def test_layer_harness():
    x = np.random.default_rng(0).normal(size=(2, 6, 4, 3)).astype("float32")
    run_layer_test(
        BatchDrop, init_kwargs={"seed": 3}, input_data=x, expected_output_shape=(2, 6, 4, 3)
    )


def test_one_full_width_band_for_the_whole_batch():
    """256 x 128 input, last stride 1: a 16 x 8 map loses floor(0.33 * 16) = 5 whole rows, the
    same rows in every image and channel."""
    layer = BatchDrop(0.33, 1.0, seed=0)
    for _ in range(5):
        zero = dropped(layer, np.ones((4, 16, 8, 3), "float32"))
        assert (zero == zero[:1, :, :, :1]).all()  # same place in every image and channel
        rows = np.flatnonzero(zero[0, :, 0, 0])
        assert len(rows) == 5 and rows[-1] - rows[0] == 4  # contiguous
        assert (zero[0, rows] == True).all()  # noqa: E712  every column of those rows


def test_every_position_where_the_block_fits_is_drawn():
    layer = BatchDrop(0.5, 0.5, seed=1)
    corners = set()
    for _ in range(200):
        zero = dropped(layer, np.ones((1, 4, 6, 1), "float32"))[0, :, :, 0]
        rows, columns = np.nonzero(zero)
        assert zero.sum() == 2 * 3
        corners.add((rows.min(), columns.min()))
    assert corners == {(r, c) for r in range(3) for c in range(4)}


def test_the_rest_of_the_map_passes_unchanged():
    x = np.random.default_rng(2).normal(size=(2, 9, 4, 2)).astype("float32")
    y = BatchDrop(0.33, 1.0, seed=2)(x, training=True).numpy()
    kept = y != 0.0
    np.testing.assert_array_equal(y[kept], x[kept])
    assert (~kept).sum() == 2 * 2 * 4 * 2  # floor(0.33 * 9) = 2 rows


def test_identity_at_inference():
    x = np.random.default_rng(3).normal(size=(2, 16, 8, 3)).astype("float32")
    layer = BatchDrop(seed=3)
    np.testing.assert_array_equal(layer(x), x)
    np.testing.assert_array_equal(layer(x, training=False), x)


def test_same_seed_same_blocks_and_dynamic_shapes_in_one_function():
    first, second = BatchDrop(seed=7), BatchDrop(seed=7)
    run = tf.function(
        lambda x: first(x, training=True), input_signature=[tf.TensorSpec([None, None, None, 1])]
    )
    for height in (16, 24, 7):
        x = np.ones((2, height, 4, 1), "float32")
        zero = run(x).numpy() == 0.0
        np.testing.assert_array_equal(zero, dropped(second, x))
        assert zero[0, :, 0, 0].sum() == int(0.33 * height)


def test_two_replicas_drop_the_band_one_device_drops():
    """The seed generator's state is one mirrored variable: each replica draws the block of
    the global batch, the same one a single device draws, step after step."""
    one, two = strategies()
    x = np.ones((2, 12, 4, 1), "float32")
    with one.scope():
        single = BatchDrop(seed=5)
    with two.scope():
        mirrored = BatchDrop(seed=5)
    step = tf.function(lambda x: two.run(lambda t: mirrored(t, training=True), args=(x,)))
    for _ in range(3):
        expected = dropped(single, x)
        replicas = two.experimental_local_results(step(x))
        for result in replicas:
            np.testing.assert_array_equal(result.numpy() == 0.0, expected)


def test_the_state_is_keyed_by_the_layer_name():
    keras.random.SeedGenerator(0)  # another generator made first changes no key
    layer = BatchDrop(seed=1, name="drop")
    assert [v.path for v in layer.variables] == ["drop_seed_generator/seed_generator_state"]


@pytest.mark.parametrize("ratio", [-0.1, 1.5, "a", True])
def test_bad_ratios_are_named(ratio):
    with pytest.raises(ValueError, match=f"height_ratio.*{ratio!r}"):
        BatchDrop(height_ratio=ratio)
