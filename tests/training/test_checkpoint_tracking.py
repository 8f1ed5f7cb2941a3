"""Every variable of every structure reaches the training checkpoint (BN statistics too)."""

import numpy as np
import pytest
import tensorflow as tf

from tfreid.config import load_config
from tfreid.methods import METHODS
from tfreid.training.loop import checkpoint_for


@pytest.mark.parametrize("structure", ["one_stream", "two_stream", "asymmetric_fc"])
def test_checkpoint_holds_every_model_variable(tmp_path, structure):
    cfg = load_config(
        None,
        [
            "model.backbone=resnet6",
            f"model.structure={structure}",
            "model.specific_stages=3",
            "data.height=32",
            "data.width=16",
        ],
    )
    parts = METHODS["softmax"].build(cfg, 5, 1)
    model = parts.nets["model"]
    for variable in model.non_trainable_variables:  # moving statistics away from 0 / 1
        variable.assign(tf.fill(variable.shape, 0.5))
    path = checkpoint_for(parts).save(str(tmp_path / "ckpt"))
    saved = [name for name, _ in tf.train.list_variables(path) if name.startswith("net_model/")]
    assert len(saved) == len(model.variables)
    fresh = METHODS["softmax"].build(cfg, 5, 1)
    checkpoint_for(fresh).restore(path).assert_existing_objects_matched()
    for restored, original in zip(fresh.nets["model"].variables, model.variables, strict=True):
        np.testing.assert_array_equal(restored.numpy(), original.numpy())
