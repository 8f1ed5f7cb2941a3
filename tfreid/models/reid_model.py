"""The cross-modality ReID model: modality encoding, per-modality stems, shared stages, head.

Structures (Wu et al., ICCV 2017, Fig. 3): `one_stream` shares everything; `two_stream`
duplicates the first `specific_stages` backbone parts per modality; `asymmetric_fc` shares the
backbone and makes the last feature layer modality-specific. The input encodings (gray,
zero-padding, domain indicator, 3-channel) are a layer in front of all of them. With the
`gated_resnet50` backbone (IJCV 2020, Modality-Gated Extractor) the modality of every row
drives the gates of every backbone part, in training, evaluation and export alike.

Heads:
- `fc` (ICCV 2017): global average pooling, a `feature_dim` FC layer (the embedding), one
  identity classifier.
- `pcb` (PCB, Sun et al. ECCV 2018, as IJCV 2020 Sec. 6.2 uses it): the map is cut into
  `stripes` horizontal stripes and average-pooled, a shared 1x1 conv reduces 2048 ->
  `feature_dim` channels, followed by BN as in PCB; one identity classifier per stripe; the
  embedding is the L2-normalised concatenation (6 x 256 = 1536-d). Common PCB code puts a
  ReLU after the BN; the IJCV text has no non-linearity there, and we leave it out: after a
  ReLU every channel of an image can be 0, and its embedding then has no direction (we saw
  it happen in a short run from scratch). Average pooling and a 1x1 conv are both linear, so
  pooling first gives the conv's output of the paper's order (conv, then pool) at a fraction
  of the cost; the BN then normalises the stripe vectors, as in PCB, which pools first.
  Under `asymmetric_fc` the 1x1 conv unit (the IJCV paper's "FC") is modality-specific.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from tfreid.colour import LUMINANCE
from tfreid.config import Config, ModelConfig
from tfreid.layers.modality_encoding import ModalityInputEncoding, encoding_channels
from tfreid.layers.modality_gate import ModalityGate
from tfreid.layers.stripe_pooling import StripePooling
from tfreid.models.backbones import BN_EPSILON, build_backbone, is_gated, part_prefix
from tfreid.models.pretrained import caffe_stem_to_normalised_rgb, load_pretrained


def indicator_values(mean: list[float], std: list[float]) -> tuple[float, float]:
    """What 255 and 0 become in the gray channel of a normalised image (domain indicator)."""
    high = sum(w * (1.0 - m) / s for w, m, s in zip(LUMINANCE, mean, std))
    low = sum(w * (0.0 - m) / s for w, m, s in zip(LUMINANCE, mean, std))
    return high, low


def _per_modality(rgb_fn, ir_fn, x, modality, num_rgb):
    """Applies `rgb_fn` to RGB rows and `ir_fn` to IR rows, keeping the row order.

    In training the batch is [rgb; ir] with `num_rgb` known, so each branch sees only its
    rows; at inference (`num_rgb` None) modalities may be mixed, so both run and rows pick.
    """
    if num_rgb is not None:
        return ops.concatenate([rgb_fn(x[:num_rgb]), ir_fn(x[num_rgb:])], axis=0)
    rgb, ir = rgb_fn(x), ir_fn(x)
    is_rgb = ops.reshape(ops.equal(modality, 0), (-1,) + (1,) * (len(rgb.shape) - 1))
    return ops.where(is_rgb, rgb, ir)


def _pcb_reduction(feature_dim: int, name: str) -> keras.Sequential:
    """PCB's 1x1 conv + BN on stripe vectors [B, S, 2048] -> [B, S, feature_dim]."""
    return keras.Sequential(
        [
            keras.layers.Dense(feature_dim, use_bias=False, name=f"{name}_conv"),
            keras.layers.BatchNormalization(
                epsilon=BN_EPSILON, synchronized=True, name=f"{name}_bn"
            ),
        ],
        name=name,
    )


class ReIDModel(keras.Model):
    """{"rgb": images, "ir": images} -> {"features", "embedding", "logits"} over [rgb; ir].

    - `fc` head: `features` float [B, C_backbone] is the pooled backbone output, `embedding`
      [B, feature_dim] the FC feature layer, `logits` [B, num_classes].
    - `pcb` head: `features` [B, stripes * feature_dim] the concatenated stripe vectors,
      `embedding` the same L2-normalised, `logits` [B, stripes, num_classes] (one classifier
      per stripe).
    """

    def __init__(self, cfg: ModelConfig, num_classes: int, indicator=(1.0, 0.0), **kwargs):
        super().__init__(**kwargs)
        if cfg.structure == "two_stream" and is_gated(cfg.backbone):
            raise ValueError(
                "model.structure two_stream needs a plain backbone, not gated_resnet50"
            )
        self.structure = cfg.structure
        self.head = cfg.head
        self.gated = is_gated(cfg.backbone)
        self.encoding = ModalityInputEncoding(cfg.encoding, high=indicator[0], low=indicator[1])
        channels = encoding_channels(cfg.encoding)
        parts = build_backbone(cfg.backbone, channels, cfg.last_stride)
        specific = cfg.specific_stages if cfg.structure == "two_stream" else 0
        if not 0 <= specific < len(parts):
            raise ValueError(
                f"model.specific_stages must be in 1..{len(parts) - 1} for {cfg.backbone}, "
                f"got {specific}"
            )
        # Tuples, not lists: tf.train.Checkpoint tracks tuple attributes of a Keras 3 model
        # but not list attributes, and every stage must be in the checkpoint.
        self.rgb_stages, self.ir_stages = (
            tuple(build_backbone(cfg.backbone, channels, cfg.last_stride, prefix)[:specific])
            if specific
            else ()
            for prefix in ("rgb_", "ir_")
        )
        self.shared_stages = tuple(parts[specific:])
        self.dropout = keras.layers.Dropout(cfg.dropout)
        if cfg.head == "pcb":
            self.pool = StripePooling(cfg.stripes, name="pool")
            feature_layer = _pcb_reduction
            # PCB initialises its classifiers with N(0, 0.001²) and zero bias.
            self.classifier = keras.layers.EinsumDense(
                "bsd,sdc->bsc",
                output_shape=(cfg.stripes, num_classes),
                bias_axes="sc",
                kernel_initializer=keras.initializers.RandomNormal(stddev=0.001),
                name="classifier",
            )
        else:
            self.pool = keras.layers.GlobalAveragePooling2D(name="pool")
            feature_layer = keras.layers.Dense
            self.classifier = keras.layers.Dense(num_classes, name="classifier")
        if cfg.structure == "asymmetric_fc":
            self.rgb_fc = feature_layer(cfg.feature_dim, name="rgb_fc")
            self.ir_fc = feature_layer(cfg.feature_dim, name="ir_fc")
        else:
            self.fc = feature_layer(cfg.feature_dim, name="fc")

    def _forward(self, images, modality, num_rgb=None, training=False):
        """(features, embedding, logits) of rows whose modalities are `modality`."""
        x = self.encoding([images, modality])
        if self.rgb_stages:
            x = _per_modality(
                lambda t: self._run(self.rgb_stages, t, None, training),
                lambda t: self._run(self.ir_stages, t, None, training),
                x,
                modality,
                num_rgb,
            )
        pooled = self.pool(self._run(self.shared_stages, x, modality, training))
        dropped = self.dropout(pooled, training=training)
        if self.structure == "asymmetric_fc":
            fc_rgb = lambda t: self.rgb_fc(t, training=training)  # noqa: E731
            fc_ir = lambda t: self.ir_fc(t, training=training)  # noqa: E731
            reduced = _per_modality(fc_rgb, fc_ir, dropped, modality, num_rgb)
        else:
            reduced = self.fc(dropped, training=training)
        logits = self.classifier(reduced)
        if self.head == "fc":
            return pooled, reduced, logits
        features = ops.reshape(reduced, (-1, reduced.shape[1] * reduced.shape[2]))
        embedding = features / ops.maximum(ops.norm(features, axis=1, keepdims=True), 1e-12)
        return features, embedding, logits

    def _run(self, stages, x, modality, training):
        for stage in stages:
            inputs = [x, ops.cast(modality, "int32")] if self.gated else x
            x = stage(inputs, training=training)
        return x

    def call(self, inputs, training=False):
        rgb, ir = inputs["rgb"], inputs["ir"]
        num_rgb = ops.shape(rgb)[0]
        modality = ops.concatenate(
            [ops.zeros((num_rgb,), "int32"), ops.ones((ops.shape(ir)[0],), "int32")], axis=0
        )
        images = ops.concatenate([rgb, ir], axis=0)
        features, embedding, logits = self._forward(images, modality, num_rgb, training)
        return {"features": features, "embedding": embedding, "logits": logits}

    def embed(self, images, modality, training=False):
        """Embeddings of a batch whose rows may mix modalities (0 = RGB, 1 = IR)."""
        return self._forward(images, ops.cast(modality, "int32"), None, training)[1]

    def backbone_variables(self) -> list:
        """Trainable variables of the backbone layers that ImageNet weights initialise.

        The modality gates are new layers, so they are not among them.
        """
        return [
            variable
            for part in self.rgb_stages + self.ir_stages + self.shared_stages
            for layer in part.layers
            if not isinstance(layer, ModalityGate)
            for variable in layer.trainable_variables
        ]


def build_model(cfg: Config, num_classes: int) -> ReIDModel:
    """A ReIDModel with its variables created (needed before a checkpoint restore)."""
    model = ReIDModel(cfg.model, num_classes, indicator_values(cfg.data.mean, cfg.data.std))
    image = ops.zeros((1, cfg.data.height, cfg.data.width, 3))
    model({"rgb": image, "ir": image})
    if cfg.model.pretrained_weights:
        if cfg.model.backbone == "resnet6":
            for stages in (model.rgb_stages, model.ir_stages, model.shared_stages):
                if stages:
                    load_pretrained(list(stages), cfg.model.pretrained_weights)
        else:
            load_imagenet_resnet50(model, cfg)
    return model


def load_imagenet_resnet50(model: ReIDModel, cfg: Config) -> None:
    """Loads keras.applications ResNet-50 weights into a (gated) ResNet-50 ReIDModel.

    The file is read into a plain 3-channel ResNet-50 first, then copied by layer name into
    every stream, leaving the gates at their shared initial value (a1 = a2 = 0.5). The stem
    conv is rewritten for our input: from the file's caffe-style BGR input to RGB normalised
    by data.mean / data.std, then adapted to the encoding: a gray channel gets the sum of the
    RGB kernels (the response to a gray image replicated to 3 channels), indicator channels
    get zeros.
    """
    reference = build_backbone("resnet50", 3, cfg.model.last_stride)
    load_pretrained(reference, cfg.model.pretrained_weights)
    source = {layer.name: layer for part in reference for layer in part.layers if layer.weights}
    for part in model.rgb_stages + model.ir_stages + model.shared_stages:
        prefix = part_prefix(part)
        for layer in part.layers:
            if not layer.weights or isinstance(layer, ModalityGate):
                continue
            name = layer.name[len(prefix) :]
            values = source[name].get_weights()
            if name == "conv1_conv":
                kernel, bias = caffe_stem_to_normalised_rgb(*values, cfg.data.mean, cfg.data.std)
                values = [stem_kernel(kernel, cfg.model.encoding), bias]
            layer.set_weights(values)


def stem_kernel(kernel: np.ndarray, encoding: str) -> np.ndarray:
    """An RGB stem kernel [kh, kw, 3, F] adapted to an input encoding's channels."""
    gray = kernel.sum(axis=2, keepdims=True)
    zeros = np.zeros_like(gray)
    adapted = {
        "rgb3": kernel,
        "gray": gray,
        "zero_padding": np.concatenate([gray, gray], axis=2),
        "domain_indicator": np.concatenate([gray, zeros, zeros], axis=2),
    }
    return adapted[encoding]
