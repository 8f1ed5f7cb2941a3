"""The ReID model of the contract in `tfreid.models`: stems per modality, shared stages, a head.

A ReIDModel is composed, not configured: named stems (a list of stages per modality; modalities
given the same list object share it), shared stages, a head (`tfreid.models.heads`) and an
optional input encoding (`ModalityInputEncoding`). The ICCV 2017 structures, the IJCV 2020 gated
extractor and the base-derivative framework's four-stem network are small builders of these
pieces (`tfreid.models.structures`). With gated stages (IJCV 2020, Modality-Gated Extractor)
the modality of every row drives every gate, in training, evaluation and export alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import keras
from keras import ops

from tfreid.layers.modality_gate import ModalityGate
from tfreid.models.routing import route

SERVED_MODALITIES = ("rgb", "ir")  # modality 0 and 1 of the SavedModel signature


class ReIDModel(keras.Model):
    """{modality name: images} -> {"features", "embedding", "logits"[, "feature_map"]}.

    Args:
        stems: modality name -> its stages (functional models), in modality-index order; the
            first two names must be "rgb" and "ir". Names given the same list share the stem.
        shared: stages every row goes through after its stem.
        head: a head layer of `tfreid.models.heads`.
        encoding: a layer `encoding([images, modality])` in front of the stems, or None.
        gated: the stages take `[x, modality]` (modality-gated backbone).
        feature_map_stage: also return the output of `shared[feature_map_stage]` as
            "feature_map" (TS-GAN's discriminator and teacher read the student's layer3 map).
    """

    def __init__(
        self,
        stems: Mapping[str, Sequence[keras.Model]],
        shared: Sequence[keras.Model],
        head: keras.layers.Layer,
        encoding: keras.layers.Layer | None = None,
        gated: bool = False,
        feature_map_stage: int | None = None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.modalities = tuple(stems)
        if self.modalities[:2] != SERVED_MODALITIES:
            raise ValueError(
                f"ReIDModel stems must start with {SERVED_MODALITIES}, got {self.modalities}"
            )
        if feature_map_stage is not None and not 0 <= feature_map_stage < len(shared):
            raise ValueError(
                f"feature_map_stage must index one of the {len(shared)} shared stages, got "
                f"{feature_map_stage}"
            )
        distinct = list({id(s): s for s in stems.values()}.values())
        self.stems = [list(stages) for stages in distinct]
        self.stem_of = tuple(
            next(i for i, s in enumerate(distinct) if s is stems[m]) for m in stems
        )
        self.shared = list(shared)
        self.head = head
        self.encoding = encoding
        self.gated = gated
        self.feature_map_stage = feature_map_stage

    def call(self, inputs: Mapping, training=False):
        """Rows of the outputs follow `self.modalities` order over the names in `inputs`."""
        unknown = sorted(set(inputs) - set(self.modalities))
        if unknown:
            raise ValueError(f"ReIDModel has no modality {unknown}; it has {self.modalities}")
        present = [m for m in self.modalities if m in inputs]
        sizes = [ops.shape(inputs[m])[0] if m in inputs else 0 for m in self.modalities]
        modality = ops.concatenate(
            [
                ops.full((sizes[i],), i, "int32")
                for i, m in enumerate(self.modalities)
                if m in inputs
            ]
        )
        images = ops.concatenate([inputs[m] for m in present], axis=0)
        return self.forward(images, modality, sizes, training)

    def forward(self, images, modality, sizes=None, training=False) -> dict:
        """The outputs for rows of any modality (int32 [B]); `sizes` as in `routing.route`."""
        x = self._through_stems(images, modality, sizes, training)
        feature_map = None
        for index, stage in enumerate(self.shared):
            x = self._run(stage, x, modality, training)
            if index == self.feature_map_stage:
                feature_map = x
        outputs = dict(self.head([x, modality], sizes=sizes, training=training))
        if feature_map is not None:
            outputs["feature_map"] = feature_map
        return outputs

    def feature_map(self, images, modality, sizes=None, training=False):
        """The output of shared stage `feature_map_stage` alone: the later stages and the head
        do not run (TS-GAN's FE_S). Arguments as `forward`.

        Returns:
            float [B, h, w, c], "feature_map" of `forward`'s outputs.
        """
        if self.feature_map_stage is None:
            raise ValueError(f"{self.name} was built without a feature_map_stage")
        x = self._through_stems(images, modality, sizes, training)
        for stage in self.shared[: self.feature_map_stage + 1]:
            x = self._run(stage, x, modality, training)
        return x

    def _through_stems(self, images, modality, sizes, training):
        x = images if self.encoding is None else self.encoding([images, modality])
        stems = [self._stages_fn(self.stems[i], training) for i in self.stem_of]
        return route(stems, x, modality, sizes)

    def embed(self, images, modality, training=False):
        """float [B, D] embeddings of rows whose modalities (int [B]) may mix."""
        return self.forward(images, ops.cast(modality, "int32"), None, training)["embedding"]

    def _stages_fn(self, stages, training):
        def run(x, modality):
            for stage in stages:
                x = self._run(stage, x, modality, training)
            return x

        return run

    def _run(self, stage, x, modality, training):
        return stage([x, modality] if self.gated else x, training=training)

    def subset(self, modalities: Sequence[str]) -> ReIDModel:
        """A model over some of the modalities that shares this one's layers (e.g. the V and
        I paths the base-derivative framework serves, without its derivative stems)."""
        stems = {m: self.stem(m) for m in modalities}
        model = ReIDModel(
            stems,
            self.shared,
            self.head,
            self.encoding,
            self.gated,
            self.feature_map_stage,
            name=f"{self.name}_{'_'.join(modalities)}",
        )
        # Its layers are this model's: built when this one is (an export needs it built).
        model.built = self.built
        return model

    def stem(self, modality: str) -> list[keras.Model]:
        """The stages of `modality`'s stem (empty when it has none of its own)."""
        return self.stems[self.stem_of[self.modalities.index(modality)]]

    def stages(self) -> list[keras.Model]:
        """Every stage, each once: the stems' then the shared ones."""
        return [stage for stem in self.stems for stage in stem] + self.shared

    def backbone_variables(self) -> list:
        """Trainable variables of the stages, which ImageNet weights initialise.

        The modality gates are new layers, so they are not among them.
        """
        return [
            variable
            for stage in self.stages()
            for layer in stage.layers
            if not isinstance(layer, ModalityGate)
            for variable in layer.trainable_variables
        ]
