"""Modality-gated node, Wu et al., IJCV 2020, Eq. 11-14."""

import keras
import tensorflow as tf
from keras import ops

from tfreid.layers.pairs import split_pair

# Keeps a1, a2 finite if both raw weights reach 0 (the paper asks for non-zero a1', a2').
_EPSILON = 1e-12


@keras.saving.register_keras_serializable(package="tfreid")
class ModalityGate(keras.layers.Layer):
    """Scales every channel by a learned per-modality weight (IJCV 2020, Eq. 11-14).

    O = a1·X for RGB samples and a2·X for IR samples, per channel, with
    a1 = |a1'| / (|a1'| + |a2'|) and a2 = |a2'| / (|a1'| + |a2'|) (Eq. 12), so a1 + a2 = 1
    and a node cannot die for both modalities. a1', a2' start at 1 (a1 = a2 = 0.5, a shared
    node); a1 -> 1 makes the channel RGB-specific, a2 -> 1 IR-specific.

    Called as `layer([x, modality])`:
        x: float [B, ..., C].
        modality: int [B], 0 = RGB, 1 = IR.

    The raw weights a1', a2' are the variables `rgb_gate` and `ir_gate` (shape [C]);
    `gate_weights()` returns (a1, a2).
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.rgb_gate = None
        self.ir_gate = None

    def build(self, input_shape):
        x_shape, modality_shape = _split_inputs(input_shape, "input_shape")
        if len(x_shape) < 2 or x_shape[-1] is None:
            raise ValueError(
                "ModalityGate expects x of shape [B, ..., C] with a known channel count C; "
                f"received x shape {tuple(x_shape)}"
            )
        if len(modality_shape) != 1:
            raise ValueError(
                f"ModalityGate expects modality of shape [B]; received {tuple(modality_shape)}"
            )
        channels = x_shape[-1]
        self.rgb_gate = self.add_weight(name="rgb_gate", shape=(channels,), initializer="ones")
        self.ir_gate = self.add_weight(name="ir_gate", shape=(channels,), initializer="ones")

    def gate_weights(self) -> tuple[tf.Tensor, tf.Tensor]:
        """(a1, a2), each float [C]: the RGB and IR modality selection weights of Eq. 12."""
        if self.rgb_gate is None:
            raise ValueError(f"{self.name}: gate_weights() needs a built layer; call it first")
        rgb = ops.abs(self.rgb_gate)
        ir = ops.abs(self.ir_gate)
        total = rgb + ir + _EPSILON
        return rgb / total, ir / total

    def call(self, inputs):
        x, modality = _split_inputs(inputs, "inputs")
        rgb_weight, ir_weight = self.gate_weights()
        is_ir = ops.equal(modality, 1)
        for _ in range(len(x.shape) - 1):
            is_ir = ops.expand_dims(is_ir, -1)
        gate = ops.where(is_ir, ir_weight, rgb_weight)
        return x * ops.cast(gate, x.dtype)

    def compute_output_shape(self, input_shape):
        return _split_inputs(input_shape, "input_shape")[0]


def _split_inputs(inputs, what):
    return split_pair(inputs, "ModalityGate", "[x, modality]", what)
