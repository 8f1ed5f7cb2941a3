"""Loss functions: pure functions returning per-sample float32 values (MMD, CORAL: scalars;
`discriminator_loss`: one vector for the real and one for the fake images)."""

from tfreid.losses.adversarial import (
    cycle_loss,
    discriminator_loss,
    feature_map_loss,
    generator_loss,
)
from tfreid.losses.centre import centre_loss
from tfreid.losses.distribution import coral, mmd
from tfreid.losses.identity import identity_loss
from tfreid.losses.pentaplet import hard_pentaplet, hard_pentaplet_terms
from tfreid.losses.similarity_preserving import similarity_preserving
from tfreid.losses.triplet import batch_hard_triplet, cross_modality_triplet

__all__ = [
    "batch_hard_triplet",
    "centre_loss",
    "coral",
    "cross_modality_triplet",
    "cycle_loss",
    "discriminator_loss",
    "feature_map_loss",
    "generator_loss",
    "hard_pentaplet",
    "hard_pentaplet_terms",
    "identity_loss",
    "mmd",
    "similarity_preserving",
]
