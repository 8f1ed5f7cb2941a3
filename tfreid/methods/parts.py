"""What a method's `build` returns: its networks and their optimizers, by name."""

from typing import NamedTuple

import keras


class Parts(NamedTuple):
    """Networks and optimizers of one method; the loop checkpoints every entry.

    `nets["model"]` is the network whose `embed(images, modality)` evaluation and export use,
    unless the method defines its own `embed`.
    """

    nets: dict[str, keras.Model]
    optimizers: dict[str, keras.optimizers.Optimizer]
