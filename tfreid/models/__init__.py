"""The ReID model: networks (backbones as stages, whole networks), heads and the builders.

The ReID model contract (every network a method serves, or trains to embed people, keeps it):

- `model(inputs, training=...)`: `inputs` maps modality names to float images [B_m, H, W, 3],
  normalised by data.mean / data.std. The names are `model.modalities` ("rgb", "ir", and for
  the base-derivative framework also "rgb_derived", "ir_derived"); the position of a name in
  that tuple is its modality index (0 = RGB, 1 = IR, as in the SavedModel). Any subset of the
  names may be given; the rows of every output follow `model.modalities` order.
- It returns a dict:
  - "features": float [B, D] (or a list of [B, D_i], one per ranking head): what the ranking
    losses (triplet, pentaplet) use;
  - "embedding": float [B, E]: the test embedding;
  - "logits": float [B, C] or [B, S, C] (S classifier heads: PCB's stripes);
  - "feature_map": float [B, h, w, c], only from a model built to return one (TS-GAN).
- `model.embed(images, modality, training=False) -> float [B, E]`: rows whose modality
  indices (int32 [B]) may mix; the embedding `tools/test.py` and the SavedModel use.

`tfreid.models.reid_model.ReIDModel` implements it from named stems, shared stages and a head
(`tfreid.models.heads`); `tfreid.models.structures.build_model` builds the one the `model`
config section describes, from the backbones and networks of `tfreid.models.networks` (one
module per architecture, and the registry of their config names).
"""
