"""IdentityCentres: the variable the centre loss learns."""

import keras
import numpy as np
import pytest
from harness import run_layer_test

from tfreid.layers import IdentityCentres


def test_layer_harness():
    labels = np.array([2, 0, 1, 2, 1], "int32")  # every class, so every centre trains
    run_layer_test(
        IdentityCentres,
        init_kwargs={"num_classes": 3, "dim": 4},
        input_data=labels,
        expected_output_shape=(5, 4),
        expected_num_trainable_weights=1,
    )


def test_lookup_returns_the_centres_of_the_labels():
    layer = IdentityCentres(num_classes=3, dim=2, centres_initializer="zeros")
    layer.build()
    centres = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]], "float32")
    layer.centres.assign(centres)
    assert layer.centres.path.endswith("centres") and layer.centres.shape == (3, 2)
    np.testing.assert_array_equal(layer(np.array([[2, 0], [1, 1]])), centres[[[2, 0], [1, 1]]])


def test_default_initializer_is_standard_normal():
    keras.utils.set_random_seed(0)
    layer = IdentityCentres(num_classes=100, dim=50)
    layer.build()
    values = layer.centres.numpy()
    assert abs(values.mean()) < 0.05 and abs(values.std() - 1.0) < 0.05
    revived = IdentityCentres.from_config(layer.get_config())
    assert revived.centres_initializer.stddev == 1.0


@pytest.mark.parametrize("kwargs", [{"num_classes": 0, "dim": 4}, {"num_classes": 3, "dim": 2.5}])
def test_bad_sizes_are_named(kwargs):
    with pytest.raises(ValueError, match="must be a positive int; received"):
        IdentityCentres(**kwargs)
