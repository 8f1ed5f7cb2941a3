"""Checkpoints key every variable by its path: all of them are saved (BN statistics and
optimizer slots too), a model whose layers were created in another order restores into the
right variables, and a model that does not match fails loudly."""

import numpy as np
import pytest
import tensorflow as tf
from knobs import read_knobs
from method_harness import build, random_batch, step, tiny_config

from tfreid.methods.base import Parts
from tfreid.models.heads import FCHead
from tfreid.models.reid_model import ReIDModel
from tfreid.training.checkpoint_keys import variables_by_path
from tfreid.training.loop import checkpoint_for


@pytest.mark.parametrize("structure", ["one_stream", "two_stream", "asymmetric_fc"])
def test_checkpoint_holds_every_variable_by_path(tmp_path, structure):
    structure = [f"model.structure={structure}"]
    cfg = tiny_config(*structure, *read_knobs(structure, specific_stages=3))
    method, params, parts = build(cfg)
    step(tf.distribute.get_strategy(), method, parts, params, random_batch())  # slots, stats
    model = parts.nets["model"]
    path = checkpoint_for(parts).save(str(tmp_path / "ckpt"))
    saved = [name for name, _ in tf.train.list_variables(path)]
    assert len([n for n in saved if n.startswith("net_model/")]) == len(model.variables)
    assert any("moving_variance" in n for n in saved)
    _, _, fresh = build(cfg)
    checkpoint_for(fresh).restore(path).assert_existing_objects_matched()
    restored = variables_by_path(fresh.nets["model"])
    for key, original in variables_by_path(model).items():
        np.testing.assert_array_equal(restored[key].numpy(), original.numpy(), err_msg=key)
    slots = variables_by_path(fresh.optimizers["model"])
    for key, original in variables_by_path(parts.optimizers["model"]).items():
        np.testing.assert_array_equal(slots[key].numpy(), original.numpy(), err_msg=key)


class IrFirstHead(FCHead):
    """The asymmetric FC head with its two FC layers created in the other order."""

    def _make_feature_layers(self, make) -> None:
        self.ir_fc, self.rgb_fc = make("ir_fc"), make("rgb_fc")


def asymmetric(head_class) -> ReIDModel:
    """A tiny asymmetric-FC ReID model with the given head class."""
    head = head_class(4, 3, modality_specific=True, name="head")
    model = ReIDModel({"rgb": [], "ir": []}, [], head, name="reid_model")
    model({"rgb": tf.ones((2, 4, 4, 3)), "ir": tf.ones((2, 4, 4, 3))})
    return model


def test_layers_created_in_another_order_restore_into_the_right_variables(tmp_path):
    source, target = asymmetric(FCHead), asymmetric(IrFirstHead)
    assert [v.path for v in source.variables] != [v.path for v in target.variables]
    path = checkpoint_for(Parts({"model": source}, {}, source)).save(str(tmp_path / "ckpt"))
    checkpoint_for(Parts({"model": target}, {}, target)).restore(path).assert_consumed()
    assert source.head.rgb_fc.kernel.shape == target.head.rgb_fc.kernel.shape
    for name in ("rgb_fc", "ir_fc", "classifier"):
        for mine, theirs in zip(
            getattr(source.head, name).weights, getattr(target.head, name).weights
        ):
            np.testing.assert_array_equal(mine.numpy(), theirs.numpy())
    x = tf.random.normal((3, 4, 4, 3))
    np.testing.assert_allclose(target.embed(x, [0, 1, 1]), source.embed(x, [0, 1, 1]))


def test_a_model_that_does_not_match_fails_loudly(tmp_path):
    cfg = tiny_config("model.feature_dim=16")
    _, _, parts = build(cfg)
    path = checkpoint_for(parts).save(str(tmp_path / "ckpt"))
    _, _, other = build(tiny_config("model.feature_dim=8"))
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="shape"):
        checkpoint_for(other).restore(path)
    _, _, two_stream = build(tiny_config("model.structure=two_stream", "model.specific_stages=3"))
    status = checkpoint_for(two_stream).restore(path)
    with pytest.raises(AssertionError, match="rgb_"):
        status.assert_existing_objects_matched()


def test_two_variables_with_one_path_are_refused():
    import keras

    inputs = keras.Input((3,))
    first = keras.Model(inputs, keras.layers.Dense(2, name="same")(inputs))
    second = keras.Model(inputs, keras.layers.Dense(2, name="same")(inputs))

    class Twice(keras.Model):
        def __init__(self):
            super().__init__(name="twice")
            self.a, self.b = first, second

        def call(self, x):
            return self.a(x) + self.b(x)

    model = Twice()
    model(tf.ones((1, 3)))
    with pytest.raises(ValueError, match="share the path 'same/kernel'"):
        variables_by_path(model)
