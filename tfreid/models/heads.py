"""ReID heads: from the last feature map to {"features", "embedding", "logits"}.

A head is a Keras layer called as `head([x, modality], sizes=None, training=...)`: x is the
last stage's output, modality the int32 [B] modality index of every row, `sizes` the rows per
modality in training (see `tfreid.models.routing.route`). Modality-specific layers (the ICCV
2017 asymmetric FC structure) route each row to its modality's layer.

- `FCHead` (ICCV 2017): global average pooling, an FC feature layer (the embedding), one
  identity classifier.
- `PCBHead` (PCB, Sun et al. ECCV 2018): the map is cut into horizontal stripes and
  average-pooled, a shared 1x1 conv + BN reduces every stripe, one identity classifier per
  stripe. It is built in two readings that differ in a few constructor arguments:
  - IJCV 2020 Sec. 6.2 (`model.head: pcb`, the defaults): no ReLU after the BN, the
    embedding the reduced stripes concatenated and L2-normalised (6 x 256 = 1536-d), the
    reduction per modality with the asymmetric FC structure. Common PCB code puts a ReLU
    after the BN; the IJCV text has no non-linearity there, and we leave it out: after a
    ReLU every channel of an image can be 0, and its embedding then has no direction (we saw
    it happen in a short run from scratch).
  - torchreid's `pcb_p6` (`model.network: pcb_p6`, HPILN's PCB, `tfreid.models.networks.pcb`):
    a ReLU after the BN, and the pooled stripes, each L2-normalised, as the ranking feature
    and the embedding (6 x 2048 = 12288-d).
  Average pooling and a 1x1 conv are both linear, so pooling first gives the conv's output of
  the paper's order (conv, then pool) at a fraction of the cost; the BN then normalises the
  stripe vectors, as in PCB, which pools first.
- `BNNeckHead` (the BoT / AGW baselines that the base-derivative framework and TS-GAN build
  on): global average pooling gives `features` (the triplet input), a batch norm without bias
  (the "BN neck", bias frozen at 0) feeds a bias-free classifier; the embedding is the neck
  output or the pooled feature.
"""

from __future__ import annotations

import keras
from keras import ops

from tfreid.layers.batch_norm import batch_norm
from tfreid.layers.stripe_pooling import StripePooling
from tfreid.models.routing import route

PCB_EMBEDDINGS = ("reduced", "stripes")
PCB_REDUCTION_LAYERS = ("fc", "reduction")


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
    """Stripe pooling -> dropout -> 1x1 conv + BN (+ ReLU) per stripe -> a classifier per stripe.

    Called as `head([x, modality], sizes=None, training=False)` with x float [B, H, W, C].
    Outputs, with `embedding="reduced"`: `features` [B, stripes * feature_dim] the reduced
    stripes concatenated, `embedding` the same L2-normalised as one vector; with
    `embedding="stripes"`: `features` [B, stripes * C] the pooled stripes after the dropout,
    each stripe L2-normalised, `embedding` the same without the dropout. `logits`
    [B, stripes, num_classes] in both.

    Args:
        feature_dim: the width of a reduced stripe (the 1x1 conv's filters).
        num_classes: identities.
        stripes: the number of horizontal stripes.
        dropout: the dropout rate on the pooled stripes, before the reduction.
        modality_specific: one reduction per modality (the asymmetric FC structure).
        relu: a ReLU after the reduction's BN (torchreid), or none (IJCV 2020).
        embedding: "reduced" (IJCV 2020) or "stripes" (torchreid's pcb_p6), as above.
        classifier_stddev: the classifiers start from N(0, stddev²) with zero bias (PCB's
            code: 0.001; torchreid: 0.01).
        reduction_initializer: the 1x1 conv's kernel initializer.
        reduction_layers: how the reduction's layers are named (checkpoints key variables by
            these names): "fc", one layer "fc" ("rgb_fc" and "ir_fc" when modality-specific)
            holding "fc_conv" and "fc_bn"; "reduction", two layers of the head,
            "reduction" and "reduction_bn", as HPILN's pcb_p6 was first built.
    """

    def __init__(
        self,
        feature_dim,
        num_classes,
        stripes=6,
        dropout=0.0,
        modality_specific=False,
        relu=False,
        embedding="reduced",
        classifier_stddev=0.001,
        reduction_initializer="glorot_uniform",
        reduction_layers="fc",
        **kwargs,
    ):
        super().__init__(modality_specific, **kwargs)
        if embedding not in PCB_EMBEDDINGS:
            raise ValueError(
                f"PCBHead embedding must be one of {PCB_EMBEDDINGS}, got {embedding!r}"
            )
        if reduction_layers not in PCB_REDUCTION_LAYERS:
            raise ValueError(
                f"PCBHead reduction_layers must be one of {PCB_REDUCTION_LAYERS}, got "
                f"{reduction_layers!r}"
            )
        if modality_specific and reduction_layers != "fc":
            raise ValueError("PCBHead: a reduction per modality needs reduction_layers='fc'")
        self.feature_dim, self.num_classes, self.stripes = feature_dim, num_classes, stripes
        self.dropout_rate, self.relu, self.embedding = dropout, relu, embedding
        self.reduction_initializer = reduction_initializer
        self.reduction_layers = reduction_layers
        self.pool = StripePooling(stripes, name="pool")
        self.dropout = keras.layers.Dropout(dropout)
        self.classifier = keras.layers.EinsumDense(
            "bsd,sdc->bsc",
            output_shape=(stripes, num_classes),
            bias_axes="sc",
            kernel_initializer=keras.initializers.RandomNormal(stddev=classifier_stddev),
            name="classifier",
        )
        if reduction_layers == "fc":
            self._make_feature_layers(self._reduction)
        else:
            self.reduction = self._conv("reduction")
            self.reduction_bn = batch_norm("reduction_bn")

    def _conv(self, name: str) -> keras.layers.Dense:
        """PCB's 1x1 conv on stripe vectors [B, S, C] -> [B, S, feature_dim]."""
        return keras.layers.Dense(
            self.feature_dim,
            use_bias=False,
            kernel_initializer=self.reduction_initializer,
            name=name,
        )

    def _reduction(self, name: str) -> keras.Sequential:
        """The 1x1 conv + BN as one layer `name` (one per modality when modality-specific)."""
        return keras.Sequential([self._conv(f"{name}_conv"), batch_norm(f"{name}_bn")], name=name)

    def _reduce_stripes(self, stripes, modality, sizes, training):
        """The 1x1 conv + BN (+ ReLU) of the stripe vectors [B, S, C] -> [B, S, feature_dim]."""
        if self.reduction_layers == "fc":
            reduced = self._reduce(stripes, modality, sizes, training)
        else:
            reduced = self.reduction_bn(self.reduction(stripes), training=training)
        return ops.relu(reduced) if self.relu else reduced

    def call(self, inputs, sizes=None, training=False):
        x, modality = inputs
        stripes = self.pool(x)
        dropped = self.dropout(stripes, training=training)
        reduced = self._reduce_stripes(dropped, modality, sizes, training)
        logits = self.classifier(reduced)
        if self.embedding == "stripes":
            features, embedding = normalise_stripes(dropped), normalise_stripes(stripes)
        else:
            features = ops.reshape(reduced, (-1, reduced.shape[1] * reduced.shape[2]))
            embedding = features / ops.maximum(ops.norm(features, axis=1, keepdims=True), 1e-12)
        return {"features": features, "embedding": embedding, "logits": logits}


def normalise_stripes(stripes):
    """float [B, S, C] -> [B, S * C]: every stripe divided by max(its L2 norm, 1e-12)."""
    norms = ops.maximum(ops.norm(stripes, axis=2, keepdims=True), 1e-12)
    normalised = stripes / norms
    return ops.reshape(normalised, (-1, normalised.shape[1] * normalised.shape[2]))


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
