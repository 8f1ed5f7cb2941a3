"""The four checks every tfreid layer test runs (STYLE.md 2).

`run_layer_test` checks, for one layer class and one input:
1. output shape (symbolic and eager) and dtype;
2. trainable / non-trainable weight counts;
3. config round trip: `from_config(get_config())` and `keras.saving` serialize/deserialize
   (under the registered "tfreid>Name") rebuild a layer with the same config that, given the
   same weights, gives the same outputs;
4. one training step: a tiny model around the layer, compiled (graph mode) output equal to
   the eager one, one SGD step changes every trainable weight of the layer.

A layer with several outputs (a tuple or list of tensors) gives `expected_output_shape` as a
list of shapes, one per output; each output is checked, and trained against its own target.
"""

import json

import keras
import numpy as np
from keras import tree


def run_layer_test(
    cls,
    init_kwargs,
    input_data,
    expected_output_shape,
    expected_num_trainable_weights=0,
    expected_num_non_trainable_weights=0,
):
    """Runs the four checks; `input_data` is a NumPy array or a list of them."""
    single_output = all(isinstance(size, (int, type(None))) for size in expected_output_shape)
    expected_shapes = [expected_output_shape] if single_output else list(expected_output_shape)
    symbolic_layer = cls(**init_kwargs)
    symbolic_inputs = tree.map_structure(
        lambda x: keras.KerasTensor(x.shape, dtype=x.dtype), input_data
    )
    _check_shapes(symbolic_layer(symbolic_inputs), expected_shapes, "symbolic")

    layer = cls(**init_kwargs)
    output = layer(input_data)
    _check_shapes(output, expected_shapes, "eager")
    for tensor in tree.flatten(output):
        assert keras.backend.standardize_dtype(tensor.dtype) == layer.compute_dtype
    _check_weight_counts(layer, expected_num_trainable_weights, expected_num_non_trainable_weights)
    _perturb_weights(layer)
    output = _to_numpy(layer(input_data))

    _check_config_round_trip(layer, input_data, output)
    _check_training_step(layer, input_data, output)


def _to_numpy(outputs):
    return tree.map_structure(keras.ops.convert_to_numpy, outputs)


def _check_shapes(outputs, expected_shapes, how):
    shapes = [tuple(tensor.shape) for tensor in tree.flatten(outputs)]
    expected = [tuple(shape) for shape in expected_shapes]
    assert shapes == expected, f"{how} output shapes {shapes}, expected {expected}"


def _assert_outputs_close(outputs, expected_outputs, rtol, atol, err_msg=""):
    outputs, expected_outputs = tree.flatten(outputs), tree.flatten(expected_outputs)
    assert len(outputs) == len(expected_outputs), err_msg
    for output, expected in zip(outputs, expected_outputs, strict=True):
        np.testing.assert_allclose(output, expected, rtol=rtol, atol=atol, err_msg=err_msg)


def _check_weight_counts(layer, trainable, non_trainable):
    assert len(layer.trainable_weights) == trainable, (
        f"{len(layer.trainable_weights)} trainable weights, expected {trainable}"
    )
    assert len(layer.non_trainable_weights) == non_trainable, (
        f"{len(layer.non_trainable_weights)} non-trainable weights, expected {non_trainable}"
    )


def _perturb_weights(layer):
    """Moves weights off their initial values so a copy that forgot them would be caught."""
    rng = np.random.default_rng(0)
    for weight in layer.weights:
        value = keras.ops.convert_to_numpy(weight)
        weight.assign(value + rng.uniform(0.1, 0.5, size=value.shape).astype(value.dtype))


def _check_config_round_trip(layer, input_data, expected_output):
    config = layer.get_config()
    serialized = json.loads(json.dumps(keras.saving.serialize_keras_object(layer)))
    expected_name = f"tfreid>{type(layer).__name__}"
    assert serialized["registered_name"] == expected_name, (
        f"registered name {serialized['registered_name']!r}, expected {expected_name!r}"
    )
    revived_layers = {
        "from_config": type(layer).from_config(config),
        "deserialize": keras.saving.deserialize_keras_object(serialized),
    }
    for how, revived in revived_layers.items():
        assert revived.get_config() == config, f"{how}: config changed in the round trip"
        revived(input_data)  # builds the weights
        revived.set_weights(layer.get_weights())
        output = _to_numpy(revived(input_data))
        _assert_outputs_close(output, expected_output, rtol=1e-6, atol=1e-6, err_msg=how)


def _check_training_step(layer, input_data, eager_output):
    inputs = tree.map_structure(
        lambda x: keras.Input(shape=x.shape[1:], batch_size=x.shape[0], dtype=x.dtype),
        input_data,
    )
    model = keras.Model(inputs, layer(inputs))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.1), loss="mean_squared_error")
    compiled_output = model.predict(input_data, verbose=0)
    _assert_outputs_close(compiled_output, eager_output, rtol=1e-5, atol=1e-6)
    if not layer.trainable_weights:
        return
    before = [keras.ops.convert_to_numpy(w) for w in layer.trainable_weights]
    rng = np.random.default_rng(1)
    target = tree.map_structure(
        lambda output: rng.normal(size=output.shape).astype("float32"), eager_output
    )
    model.train_on_batch(input_data, target)
    for weight, old in zip(layer.trainable_weights, before, strict=True):
        new = keras.ops.convert_to_numpy(weight)
        assert np.all(new != old), f"trainable weight {weight.path} did not change everywhere"
