"""A loss runs both ways the package calls it: eagerly, and traced inside a tf.function (the
training step); loss tests parametrize over `MODES` and call the loss through `run`."""

import tensorflow as tf

MODES = ["eager", "function"]


def run(mode, fn, *args, **kwargs):
    """`fn(*args, **kwargs)`, eagerly or (`mode` "function") inside a tf.function."""
    if mode == "function":
        fn = tf.function(fn)
    return fn(*args, **kwargs)
