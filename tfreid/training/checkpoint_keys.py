"""Checkpoint keys of a network or optimizer: its variables keyed by path.

A module of its own so that methods (TS-GAN reads its teacher's checkpoint) and the training
loop share the keys without the methods importing the loop.
"""

from __future__ import annotations

import tensorflow as tf


def variables_by_path(owner) -> dict[str, tf.Variable]:
    """Every variable of a network or optimizer, keyed by its path with the owner's own name
    left out (so a network named "reid_model" or "reid_model_1" saves the same keys)."""
    prefix = f"{owner.name}/"
    keyed: dict[str, tf.Variable] = {}
    for variable in owner.variables:
        path = variable.path
        key = path[len(prefix) :] if path.startswith(prefix) else path
        if keyed.setdefault(key, variable) is not variable:
            raise ValueError(
                f"{owner.name}: two variables share the path {key!r}; give the layers "
                "distinct names so that a checkpoint can tell them apart"
            )
    return keyed
