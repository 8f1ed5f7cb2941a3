"""Learned class centres for the centre loss (Wen et al., ECCV 2016)."""

import keras
import tensorflow as tf
from keras import ops


@keras.saving.register_keras_serializable(package="tfreid")
class IdentityCentres(keras.layers.Layer):
    """Owns one learned centre per identity, the variable `centres` of shape [C, D].

    The layer only holds the centres; `tfreid.losses.centre_loss(labels, features,
    layer.centres)` computes the loss, and the method updates the centres with their own
    optimizer (see `tfreid.losses.centre` for the BoT weight and centre learning rate).

    Called as `layer(labels)` with int labels [...] it returns their centres, float
    [..., D], like an embedding lookup. Before reading `centres` directly, build the layer
    (`layer.build()`) or call it once.

    Args:
        num_classes: C, the number of training identities.
        dim: D, the feature dimension.
        centres_initializer: initializer of the centres; default N(0, 1) per element, as BoT's
            `CenterLoss` (torch.randn).
    """

    def __init__(self, num_classes: int, dim: int, centres_initializer=None, **kwargs):
        super().__init__(**kwargs)
        for name, value in (("num_classes", num_classes), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(
                    f"IdentityCentres: {name} must be a positive int; received {value!r}"
                )
        self.num_classes = num_classes
        self.dim = dim
        if centres_initializer is None:
            centres_initializer = keras.initializers.RandomNormal(stddev=1.0)
        self.centres_initializer = keras.initializers.get(centres_initializer)
        self.centres = None

    def build(self, input_shape=None):
        self.centres = self.add_weight(
            name="centres",
            shape=(self.num_classes, self.dim),
            initializer=self.centres_initializer,
        )

    def call(self, labels) -> tf.Tensor:
        return ops.take(self.centres, ops.cast(labels, "int32"), axis=0)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape) + (self.dim,)

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_classes": self.num_classes,
                "dim": self.dim,
                "centres_initializer": keras.initializers.serialize(self.centres_initializer),
            }
        )
        return config
