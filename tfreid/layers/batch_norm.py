"""Batch normalisation with TensorFlow's fused kernel on feature maps."""

import keras
import tensorflow as tf
from keras import ops

_FUSABLE_DTYPES = ("float32", "bfloat16", "float16")
# keras.applications uses this epsilon; the ImageNet statistics were computed with it.
BN_EPSILON = 1.001e-5


@keras.saving.register_keras_serializable(package="tfreid")
class BatchNorm(keras.layers.BatchNormalization):
    """Keras's batch normalisation, computed by TensorFlow's fused kernel on [B, H, W, C] maps.

    Keras 3 normalises with separate ops (float32 moments, the normalisation, and casts around
    them under a bfloat16 policy); TensorFlow's FusedBatchNormV3 does it in one kernel (oneDNN
    on CPUs) that reads bfloat16 or float16 maps with float32 statistics. On a ResNet-50
    training step that is 1.2x faster in float32 and 1.5x in bfloat16
    (`benchmarks/batch_norm.py`). Outputs, gradients and moving statistics are Keras's: the
    moving variance takes the biased batch variance (the kernel's unbiased one times
    (n - 1) / n), so that one device and N synchronised replicas, which take Keras's path,
    keep the same statistics. (PyTorch's batch norm, in the papers' code, moves by the
    unbiased variance: a relative difference of 1 / n, n the values per channel of a batch.)

    Keras's own path runs whenever the fused kernel does not fit: statistics synchronised over
    several replicas in training, other ranks or axes (the BN neck on [B, C]), float64, masks,
    batch renormalisation. Arguments and weights are BatchNormalization's.
    """

    def call(self, inputs, training=None, mask=None):
        training = bool(training) and self.trainable
        if not self._fusable(inputs, mask, training):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        gamma = self.gamma if self.scale else tf.ones([channels], tf.float32)
        beta = self.beta if self.center else tf.zeros([channels], tf.float32)
        outputs, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            inputs,
            ops.cast(gamma, "float32"),
            ops.cast(beta, "float32"),
            mean=self.moving_mean,
            variance=self.moving_variance,
            epsilon=self.epsilon,
            is_training=training,
        )
        if training:  # the batch's mean and unbiased variance
            shape = tf.shape(inputs)
            count = tf.cast(shape[0] * shape[1] * shape[2], tf.float32)
            biased = variance * (count - 1.0) / tf.maximum(count, 1.0)
            self.moving_mean.assign(_moved(self.moving_mean, mean, self.momentum))
            self.moving_variance.assign(_moved(self.moving_variance, biased, self.momentum))
        return ops.cast(outputs, self.compute_dtype)

    def _fusable(self, inputs, mask, training) -> bool:
        if len(inputs.shape) != 4 or self.axis not in (-1, 3) or mask is not None:
            return False
        if self.renorm or keras.backend.standardize_dtype(inputs.dtype) not in _FUSABLE_DTYPES:
            return False
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        return not (training and self.synchronized and replicas > 1)


def _moved(moving, batch, momentum: float):
    """Keras's moving average: momentum of the old value, 1 - momentum of the batch's."""
    return moving * momentum + batch * (1.0 - momentum)


def batch_norm(name: str, epsilon: float = BN_EPSILON, **kwargs) -> BatchNorm:
    """The batch norm of every tfreid network: keras.applications' epsilon by default (the
    ImageNet statistics were computed with it), synchronized so that under a multi-replica
    strategy the statistics are those of the global batch and N replicas train exactly as one
    device."""
    return BatchNorm(epsilon=epsilon, synchronized=True, name=name, **kwargs)
