"""PCB as HPILN uses it: torchreid's `pcb_p6` (Sun et al., ECCV 2018; HPILN Table 1: 224x224,
12288-d).

ResNet-50 with last stride 1 (a 14 x 14 map at 224 x 224), average-pooled over 6 horizontal
stripes with PyTorch's adaptive bins (`StripePooling`: at 14 rows the stripes overlap), which
gives v_g, 6 vectors of 2048. For the identity loss v_g goes through dropout, a shared 1x1 conv
2048 -> 256 + BN + ReLU and a classifier per stripe. The ranking feature and the test
embedding are v_g with every stripe L2-normalised, flattened (6 x 2048 = 12288), as torchreid
returns them; in training torchreid takes that feature after the dropout, and so do we.

This is not `tfreid.models.heads.PCBHead` (the IJCV 2020 reading of PCB: no ReLU, the 256-d
reduced stripes as the embedding).
"""

from __future__ import annotations

import keras
from keras import ops

from tfreid.layers.stripe_pooling import StripePooling
from tfreid.models.resnet_layers import batch_norm

STRIPES = 6
REDUCED_DIM = 256
# torchreid: kaiming-normal (fan out) convs, N(0, 0.01²) classifiers with zero bias.
_CONV_INIT = keras.initializers.VarianceScaling(2.0, "fan_out", "untruncated_normal")


def normalise_stripes(stripes):
    """float [B, S, C] -> [B, S * C]: every stripe divided by max(its L2 norm, 1e-12)."""
    norms = ops.maximum(ops.norm(stripes, axis=2, keepdims=True), 1e-12)
    normalised = stripes / norms
    return ops.reshape(normalised, (-1, normalised.shape[1] * normalised.shape[2]))


class PCBP6Head(keras.layers.Layer):
    """Stripes v_g -> (normalised v_g; dropout -> 1x1 conv + BN + ReLU -> a classifier each).

    Called as `head([x, modality], sizes=None, training=False)` with x float [B, H, W, 2048].
    Outputs: `features` float [B, 6 * 2048], the per-stripe L2-normalised v_g (after the
    dropout in training); `embedding` the same without dropout; `logits` [B, 6, num_classes].

    Args:
        num_classes: identities.
        dropout: the dropout rate on v_g before the reduction (torchreid: 0.5).
    """

    def __init__(self, num_classes: int, dropout: float = 0.5, **kwargs):
        super().__init__(**kwargs)
        self.num_classes, self.dropout_rate = num_classes, dropout
        self.pool = StripePooling(STRIPES, name="pool")
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.reduction = keras.layers.Dense(
            REDUCED_DIM, use_bias=False, kernel_initializer=_CONV_INIT, name="reduction"
        )
        self.reduction_bn = batch_norm("reduction_bn")
        self.classifier = keras.layers.EinsumDense(
            "bsd,sdc->bsc",
            output_shape=(STRIPES, num_classes),
            bias_axes="sc",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.01),
            name="classifier",
        )

    def call(self, inputs, sizes=None, training=False):
        x, _ = inputs
        stripes = self.pool(x)
        dropped = self.dropout(stripes, training=training)
        reduced = ops.relu(self.reduction_bn(self.reduction(dropped), training=training))
        return {
            "features": normalise_stripes(dropped),
            "embedding": normalise_stripes(stripes),
            "logits": self.classifier(reduced),
        }
