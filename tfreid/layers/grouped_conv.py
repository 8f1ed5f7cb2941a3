"""A grouped 2D convolution that runs as one plain convolution per group."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="tfreid")
class GroupedConv2D(keras.layers.Conv2D):
    """`keras.layers.Conv2D` with `groups` > 1, computed as one convolution per group.

    Same arguments, weights (kernel [kh, kw, C_in / groups, filters]) and outputs as
    Conv2D: group g convolves input channels [g·C_in/G, (g+1)·C_in/G) into output channels
    [g·F/G, (g+1)·F/G). Keras's TensorFlow backend compiles every grouped convolution with
    XLA at every eager call on CPU (TensorFlow's CPU kernels lack grouped gradients without
    oneDNN, and in float64 with it); MLFN's 16 grouped convs then take about a minute to
    compile at the first step. Split into groups, every convolution is an ordinary one, on any
    device and dtype, at about 1.4x the time of oneDNN's grouped kernel (MLFN block shapes on
    CPU). Channels-last only.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.data_format != "channels_last":
            raise ValueError(
                f"GroupedConv2D supports data_format='channels_last' only; received "
                f"{self.data_format!r}"
            )

    def convolution_op(self, inputs, kernel):
        if self.groups == 1:
            return super().convolution_op(inputs, kernel)
        pieces = zip(
            ops.split(inputs, self.groups, axis=-1),
            ops.split(kernel, self.groups, axis=-1),
            strict=True,
        )
        return ops.concatenate(
            [super(GroupedConv2D, self).convolution_op(x, k) for x, k in pieces], axis=-1
        )
