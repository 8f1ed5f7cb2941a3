"""ReID heads: from the last feature map to {"features", "embedding", "logits"}.

A head is a Keras layer called as `head([x, modality], sizes=None, training=...)`: x is the
last stage's output, modality the int32 [B] modality index of every row, `sizes` the rows per
modality in training (see `tfreid.models.routing.route`). Modality-specific layers (the ICCV
2017 asymmetric FC structure) route each row to its modality's layer.

- `FCHead` (ICCV 2017): global average pooling, an FC feature layer (the embedding), one
  identity classifier.
- `PCBHead` (PCB, Sun et al. ECCV 2018, as IJCV 2020 Sec. 6.2 uses it): the map is cut into
  horizontal stripes and average-pooled, a shared 1x1 conv reduces them to `feature_dim`
  channels, followed by BN as in PCB; one identity classifier per stripe; the embedding is the
  L2-normalised concatenation (6 x 256 = 1536-d). Common PCB code puts a ReLU after the BN;
  the IJCV text has no non-linearity there, and we leave it out: after a ReLU every channel of
  an image can be 0, and its embedding then has no direction (we saw it happen in a short run
  from scratch). Average pooling and a 1x1 conv are both linear, so pooling first gives the
  conv's output of the paper's order (conv, then pool) at a fraction of the cost; the BN then
  normalises the stripe vectors, as in PCB, which pools first.
- `BNNeckHead` (the BoT / AGW baselines that the base-derivative framework and TS-GAN build
  on): global average pooling gives `features` (the triplet input), a batch norm without bias
  (the "BN neck", bias frozen at 0) feeds a bias-free classifier; the embedding is the neck
  output or the pooled feature.
"""

from __future__ import annotations

import keras
from keras import ops

from tfreid.layers.stripe_pooling import StripePooling
from tfreid.models.resnet_layers import batch_norm
from tfreid.models.routing import route


class _Head(keras.layers.Layer):
    """Shared plumbing: the feature layer, one per modality when `modality_specific`."""

    def __init__(self, modality_specific: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.modality_specific = modality_specific

    def _make_feature_layers(self, make) -> None:
        if self.modality_specific:
            self.rgb_fc, self.ir_fc = make("rgb_fc"), make("ir_fc")
        else:
            self.fc = make("fc")

    @property
    def feature_layers(self) -> list:
        return [self.rgb_fc, self.ir_fc] if self.modality_specific else [self.fc]

    def _reduce(self, x, modality, sizes, training):
        layers = self.feature_layers
        fns = [lambda t, _m, layer=layer: layer(t, training=training) for layer in layers]
        if len(fns) == 1:
            return fns[0](x, modality)
        return route(fns, x, modality, sizes)


class FCHead(_Head):
    """GAP -> dropout -> FC `feature_dim` (the embedding) -> classifier.

    Outputs: `features` [B, C_map] the pooled map, `embedding` [B, feature_dim], `logits`
    [B, num_classes].
    """

    def __init__(self, feature_dim, num_classes, dropout=0.0, modality_specific=False, **kwargs):
        super().__init__(modality_specific, **kwargs)
        self.feature_dim, self.num_classes, self.dropout_rate = feature_dim, num_classes, dropout
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = keras.layers.Dense(num_classes, name="classifier")
        self._make_feature_layers(lambda name: keras.layers.Dense(feature_dim, name=name))

    def call(self, inputs, sizes=None, training=False):
        x, modality = inputs
        pooled = self.pool(x)
        dropped = self.dropout(pooled, training=training)
        embedding = self._reduce(dropped, modality, sizes, training)
        return {"features": pooled, "embedding": embedding, "logits": self.classifier(embedding)}


class PCBHead(_Head):
    """Stripe pooling -> dropout -> 1x1 conv + BN per stripe -> a classifier per stripe.

    Outputs: `features` [B, stripes * feature_dim] the concatenated stripe vectors,
    `embedding` the same L2-normalised, `logits` [B, stripes, num_classes].
    """

    def __init__(
        self, feature_dim, num_classes, stripes=6, dropout=0.0, modality_specific=False, **kwargs
    ):
        super().__init__(modality_specific, **kwargs)
        self.feature_dim, self.num_classes, self.stripes = feature_dim, num_classes, stripes
        self.pool = StripePooling(stripes, name="pool")
        self.dropout = keras.layers.Dropout(dropout)
        # PCB initialises its classifiers with N(0, 0.001²) and zero bias.
        self.classifier = keras.layers.EinsumDense(
            "bsd,sdc->bsc",
            output_shape=(stripes, num_classes),
            bias_axes="sc",
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            name="classifier",
        )
        self._make_feature_layers(self._reduction)

    def _reduction(self, name: str) -> keras.Sequential:
        """PCB's 1x1 conv + BN on stripe vectors [B, S, C] -> [B, S, feature_dim]."""
        conv = keras.layers.Dense(self.feature_dim, use_bias=False, name=f"{name}_conv")
        return keras.Sequential([conv, batch_norm(f"{name}_bn")], name=name)

    def call(self, inputs, sizes=None, training=False):
        x, modality = inputs
        dropped = self.dropout(self.pool(x), training=training)
        reduced = self._reduce(dropped, modality, sizes, training)
        features = ops.reshape(reduced, (-1, reduced.shape[1] * reduced.shape[2]))
        embedding = features / ops.maximum(ops.norm(features, axis=1, keepdims=True), 1e-12)
        return {"features": features, "embedding": embedding, "logits": self.classifier(reduced)}


class BNNeckHead(keras.layers.Layer):
    """GAP (`features`) -> BN neck without bias -> bias-free classifier (BoT, AGW).

    Outputs: `features` [B, C_map] the pooled map (the triplet input), `embedding` the BN-neck
    output (`embedding="neck"`, AGW's test feature) or the pooled feature (`"pooled"`, TS-GAN's
    test feature), `logits` [B, num_classes].
    """

    def __init__(self, num_classes, embedding="neck", **kwargs):
        super().__init__(**kwargs)
        if embedding not in ("neck", "pooled"):
            raise ValueError(f"BNNeckHead embedding must be 'neck' or 'pooled', got {embedding!r}")
        self.num_classes, self.embedding = num_classes, embedding
        self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
        self.neck = batch_norm("neck", center=False)
        self.classifier = keras.layers.Dense(
            num_classes,
            use_bias=False,
            kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
            name="classifier",
        )

    def call(self, inputs, sizes=None, training=False):
        x, _ = inputs
        pooled = self.pool(x)
        neck = self.neck(pooled, training=training)
        embedding = neck if self.embedding == "neck" else pooled
        return {"features": pooled, "embedding": embedding, "logits": self.classifier(neck)}
