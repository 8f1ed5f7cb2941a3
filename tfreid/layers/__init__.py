"""Small Keras layers shared by the methods."""

from tfreid.layers.batch_drop import BatchDrop
from tfreid.layers.derivative_generator import DerivativeGenerator
from tfreid.layers.grouped_conv import GroupedConv2D
from tfreid.layers.identity_centres import IdentityCentres
from tfreid.layers.modality_encoding import ModalityInputEncoding, encoding_channels
from tfreid.layers.modality_gate import ModalityGate

__all__ = [
    "BatchDrop",
    "DerivativeGenerator",
    "GroupedConv2D",
    "IdentityCentres",
    "ModalityGate",
    "ModalityInputEncoding",
    "encoding_channels",
]
