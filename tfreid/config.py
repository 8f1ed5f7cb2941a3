"""The typed run configuration: one dataclass per section, filled strictly from YAML.

A YAML file lists only what differs from the defaults below. Every value is checked when the
config loads (types, ranges, settings that contradict each other), so a bad value costs seconds,
not a training run: the error names the key path and what was expected (`tfreid.typed_yaml`).
A method's own knobs (`method.params`) belong to the method: `tfreid.methods.resolve` checks
them against the method's `Params`, and what the method needs of the other sections with its
`check`. This module imports nothing from the rest of tfreid but
`typed_yaml`, `errors` and `files`, and never TensorFlow.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass, field
from typing import Literal

import yaml

from tfreid.errors import shown
from tfreid.files import atomic_write
from tfreid.typed_yaml import (
    ConfigError,
    apply_override,
    bounded,
    from_dict,
    read_yaml,
    to_dict,
)

__all__ = ["Config", "ConfigError", "from_dict", "load_config", "save_config", "to_dict"]

IMAGENET_MEAN = [0.485, 0.456, 0.406]
IMAGENET_STD = [0.229, 0.224, 0.225]
NUM_TRIALS = 10  # SYSU-MM01, RegDB and LLCM all define 10 trials (data.sysu / regdb / llcm)
MAX_IMAGE_PIXELS = 89_478_485  # PIL's default limit (about 0.25 GB of 24-bit pixels)


@dataclass
class DataConfig:
    dataset: Literal["sysu", "regdb", "llcm"] = "sysu"
    root: str = "data/synthetic_sysu"
    # When set and `root` does not exist, tools/train.py writes a synthetic set of this many
    # identities there first; an existing root is never touched.
    synthetic_ids: int | None = bounded(None, low=1)
    regdb_trial: int = bounded(1, low=1, high=NUM_TRIALS)  # RegDB: train and test on this trial
    # SYSU-MM01's training identities: train + val (395, the papers' set since IJCV 2020) or
    # train alone (296, ICCV 2017's), which keeps the val ids for `train.eval_every`.
    train_ids: Literal["train_val", "train"] = "train_val"
    height: int = bounded(288, low=8, high=4096)
    width: int = bounded(144, low=8, high=4096)
    identities_per_batch: int = bounded(8, low=1)  # P, over all replicas
    images_per_identity: int = bounded(4, low=1)  # K, per modality
    pad: int = bounded(10, low=0)
    flip: bool = True  # training augmentation
    erasing_prob: float = bounded(0.5, low=0.0, high=1.0)
    mean: list[float] = field(default_factory=lambda: list(IMAGENET_MEAN))
    std: list[float] = field(default_factory=lambda: list(IMAGENET_STD))
    # An image of more pixels is refused from its header, before it is decoded: a small file
    # can decode to gigabytes (docs/reliability.md).
    max_image_pixels: int = bounded(MAX_IMAGE_PIXELS, low=1)

    def __post_init__(self):
        if self.dataset != "sysu" and self.train_ids != "train_val":
            raise ConfigError(
                f"data.train_ids: selects SYSU-MM01's training ids; {self.dataset} has its own "
                f"training split, so leave it at 'train_val' (got {self.train_ids!r})"
            )
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ConfigError(
                f"data.mean and data.std must be 3 values each (std > 0), got mean="
                f"{shown(self.mean)} std={shown(self.std)}"
            )


# HPILN's networks built on ResNet-50 (tfreid.models.networks), which take either layout.
RESNET50_NETWORKS = ("resmid", "mgn", "pcb_p6", "bfe")
_RESNET50_LAYOUTS = ("resnet50", "resnet50_torchvision")
_PLAIN_BACKBONES = ("resnet6", *_RESNET50_LAYOUTS)
# Stages of each backbone (stem first; tfreid.models.networks.num_stages, which a test checks
# this against): two_stream makes 1 .. stages - 1 of them modality-specific.
BACKBONE_STAGES = {
    "resnet6": 7,
    "resnet50": 5,
    "gated_resnet50": 5,
    "resnet50_torchvision": 5,
    "gated_resnet50_torchvision": 5,
}
# The model knobs only some models read: {key: the values of model.network that read it, null
# for the structures of model.backbone}. A network fixes the others itself (its last stride,
# heads, feature widths); every model reads backbone, encoding and pretrained_weights.
KNOB_READERS = {
    "specific_stages": (None,),
    "last_stride": (None,),
    "head": (None,),
    "feature_dim": (None,),
    "stripes": (None,),
    "bnneck_embedding": (None,),
    "dropout": (None, "pcb_p6"),
    "bfe_embedding": ("bfe",),
}
# Among the structures (model.network null), the knobs only some heads or one structure read:
# {key: (the model key that chooses, the values of it that read the knob)}.
STRUCTURE_KNOB_READERS = {
    "specific_stages": ("structure", ("two_stream",)),
    "feature_dim": ("head", ("fc", "pcb")),
    "dropout": ("head", ("fc", "pcb")),
    "stripes": ("head", ("pcb",)),
    "bnneck_embedding": ("head", ("bnneck",)),
}
IMAGENET = "imagenet"  # model.pretrained_weights: the published ImageNet weights of the backbone


@dataclass
class ModelConfig:
    # resnet50 is keras.applications' layout, resnet50_torchvision torchvision's (the PyTorch
    # papers' start); gated_* are their modality-gated twins (docs/pretrained_weights.md).
    backbone: Literal[
        "resnet6",
        "resnet50",
        "gated_resnet50",
        "resnet50_torchvision",
        "gated_resnet50_torchvision",
    ] = "resnet50"
    structure: Literal["one_stream", "two_stream", "asymmetric_fc"] = "one_stream"
    encoding: Literal["rgb3", "gray", "zero_padding", "domain_indicator"] = "rgb3"
    specific_stages: int = bounded(2, low=1)  # two-stream: leading stages built per modality
    last_stride: Literal[1, 2] = 2
    head: Literal["fc", "pcb", "bnneck"] = "fc"
    feature_dim: int = bounded(256, low=1)  # fc, pcb: the feature layer's width
    stripes: int = bounded(6, low=1)  # pcb
    dropout: float = bounded(0.0, low=0.0, high=1.0, open_high=True)
    bnneck_embedding: Literal["neck", "pooled"] = "neck"  # bnneck: the test embedding
    # null: random weights (a ResNet-50 run says so when it starts); "imagenet": the
    # backbone's published ImageNet weights, fetched once into the Keras cache; or a local
    # weights file (docs/pretrained_weights.md).
    pretrained_weights: str | None = None
    # HPILN's single-modality ReID networks (tfreid.models.networks), one-stream; each fixes
    # its own last stride and heads (pcb_p6 reads `dropout`; a knob it does not read is
    # refused, KNOB_READERS); the ResNet-50 ones take the layout of `backbone`, MLFN has its
    # own trunk.
    network: Literal["resmid", "mgn", "pcb_p6", "bfe", "mlfn"] | None = None
    bfe_embedding: Literal["bdb", "concat"] = "bdb"  # bfe: 1024-d (HPILN) or 1536-d (BDB code)

    def __post_init__(self):
        if self.network is None:
            self._check_structure()
        else:
            self._check_network()
        self._check_unread_knobs()
        self._check_imagenet()

    def _check_structure(self) -> None:
        """The ICCV 2017 structures on `backbone`: what each can be combined with."""
        if self.structure == "two_stream" and self.backbone not in _PLAIN_BACKBONES:
            raise ConfigError(
                f"model.backbone: model.structure two_stream builds a plain stem per modality, "
                f"so it needs a plain backbone ({', '.join(_PLAIN_BACKBONES)}); got "
                f"{self.backbone}"
            )
        stages = BACKBONE_STAGES[self.backbone]
        if self.structure == "two_stream" and self.specific_stages >= stages:
            raise ConfigError(
                f"model.specific_stages: model.backbone {self.backbone} has {stages} stages, "
                f"so two_stream takes 1..{stages - 1} specific ones; got {self.specific_stages}"
            )
        if self.structure == "asymmetric_fc" and self.head == "bnneck":
            raise ConfigError(
                "model.head: bnneck has no feature layer for model.structure asymmetric_fc to "
                "make modality-specific; use head fc or pcb, or another structure"
            )

    def _check_network(self) -> None:
        if self.structure != "one_stream":
            raise ConfigError(
                f"model.structure: the HPILN networks are one-stream (model.network is "
                f"{self.network}), got {self.structure}"
            )
        if self.network in RESNET50_NETWORKS and self.backbone not in _RESNET50_LAYOUTS:
            raise ConfigError(
                f"model.backbone: {self.network} is built on ResNet-50, so the backbone names "
                f"its layout, one of {', '.join(_RESNET50_LAYOUTS)}; got {self.backbone}"
            )
        if self.network == "mlfn" and self.backbone != "resnet50":
            raise ConfigError(
                f"model.backbone: MLFN builds its own trunk, so leave the backbone at its "
                f"default (resnet50); got {self.backbone}"
            )

    def _check_unread_knobs(self) -> None:
        """Refuses a knob the chosen model does not read (it would silently change nothing):
        the network's (KNOB_READERS), then, among the structures, the head's or structure's
        (STRUCTURE_KNOB_READERS)."""
        defaults = {f.name: f.default for f in dataclasses.fields(self)}
        checks = [(key, "network", readers) for key, readers in KNOB_READERS.items()]
        if self.network is None:
            checks += [(key, *chooser) for key, chooser in STRUCTURE_KNOB_READERS.items()]
        for key, chooser, readers in checks:
            value, chosen = getattr(self, key), getattr(self, chooser)
            if chosen in readers or value == defaults[key]:
                continue
            names = " or ".join(r or "null (the structures of model.backbone)" for r in readers)
            raise ConfigError(
                f"model.{key}: only model.{chooser} {names} reads it, but model.{chooser} is "
                f"{chosen or 'null'}; leave it at its default ({defaults[key]!r}), got {value!r}"
            )

    def _check_imagenet(self) -> None:
        if self.pretrained_weights != IMAGENET:
            return
        if self.network == "mlfn":
            raise ConfigError(
                "model.pretrained_weights: MLFN's ImageNet weights are torchreid's checkpoint, "
                "published for manual download only; convert it with tools/convert_weights.py "
                "torchreid-mlfn and give the file's path (docs/pretrained_weights.md)"
            )
        if self.network is None and self.backbone == "resnet6":
            raise ConfigError(
                "model.pretrained_weights: there are no ImageNet weights of resnet6 (ICCV 2017 "
                "trains it from scratch); use null or a weights file of yours"
            )


@dataclass
class MethodConfig:
    name: str = "softmax"
    params: dict = field(default_factory=dict)


@dataclass
class OptimizerConfig:
    name: Literal["sgd", "adam", "adamw"] = "sgd"
    learning_rate: float = bounded(0.01, low=0.0, open_low=True)
    momentum: float = bounded(0.9, low=0.0, high=1.0, open_high=True)
    beta_1: float = bounded(0.9, low=0.0, high=1.0, open_high=True)  # adam, adamw
    nesterov: bool = False
    weight_decay: float = bounded(5e-4, low=0.0)
    schedule: Literal["constant", "multistep", "cosine"] = "multistep"
    warmup_epochs: float = bounded(0.0, low=0.0)
    # The warm-up rate rises once per epoch, lr (e + 1) / warmup_epochs in epoch e (BoT's and
    # AGW's epoch-stepped schedulers, TS-GAN's "from lr / 10"), instead of at every step.
    warmup_per_epoch: bool = False
    milestones: list[int] = field(default_factory=list)  # epochs
    gamma: float = bounded(0.1, low=0.0, open_low=True)
    # The ImageNet-initialised backbone layers train at this multiple of the rate, with their
    # own optimizer (PCB trains them at 0.1x the rate of the new layers).
    backbone_lr_scale: float = bounded(1.0, low=0.0, open_low=True)

    def __post_init__(self):
        if self.warmup_per_epoch and self.warmup_epochs != int(self.warmup_epochs):
            raise ConfigError(
                "optimizer.warmup_per_epoch: needs whole optimizer.warmup_epochs, got "
                f"{self.warmup_epochs}"
            )
        steps = list(zip(self.milestones, self.milestones[1:]))
        if any(m < 1 for m in self.milestones) or any(a >= b for a, b in steps):
            raise ConfigError(
                f"optimizer.milestones: expected increasing epochs >= 1, got "
                f"{shown(self.milestones)}"
            )


@dataclass
class TrainConfig:
    epochs: int = bounded(60, low=1)
    steps_per_epoch: int | None = bounded(None, low=1)  # default: identities // P
    seed: int = bounded(0, low=0, high=2**32 - 1)  # NumPy and TensorFlow take 32-bit seeds
    log_every: int = bounded(20, low=1)
    checkpoint_every: int = bounded(500, low=1)  # steps; also at every epoch end
    keep_checkpoints: int = bounded(3, low=1)
    eval_every: int = bounded(0, low=0)  # epochs; 0 = no periodic validation
    # Periodic evaluation uses the validation ids; the test set only when this says so.
    select_on_test: bool = False
    # "auto": bfloat16 where the hardware computes it natively, else float32 (training/precision)
    mixed_precision: Literal["auto", "none", "bfloat16", "float16"] = "auto"


@dataclass
class EvalConfig:
    # SYSU-MM01 only: its gallery selection, search modes, shots and settings
    protocol: Literal["seeded", "official"] = "seeded"
    permutation_file: str | None = None  # the SYSU-MM01 kit's rand_perm_cam.mat (official)
    modes: list[Literal["all", "indoor"]] = field(default_factory=lambda: ["all", "indoor"])
    shots: list[Literal[1, 10]] = field(default_factory=lambda: [1, 10])
    cross_modality: bool = True  # the IR -> RGB settings (modes x shots)
    # Within one modality, same-camera images removed (docs/protocols.md): TS-GAN's Table III
    single_modality: list[Literal["ir_to_ir", "rgb_to_rgb"]] = field(default_factory=list)
    trials: int = bounded(NUM_TRIALS, low=1, high=NUM_TRIALS)  # SYSU-MM01, LLCM gallery draws
    distance: Literal["cosine", "euclidean"] = "cosine"
    flip_average: bool = False  # test time: average with the horizontal mirror's embedding
    rerank: bool = False
    batch_size: int = bounded(64, low=1)
    max_rank: int = bounded(20, low=20)  # results.json reports rank-20

    def __post_init__(self):
        for key in ("modes", "shots"):
            values = getattr(self, key)
            if not values or len(set(values)) != len(values):
                raise ConfigError(
                    f"eval.{key}: expected distinct values, at least one, got {shown(values)}"
                )
        if len(set(self.single_modality)) != len(self.single_modality):
            raise ConfigError(
                f"eval.single_modality: expected distinct values, got {shown(self.single_modality)}"
            )
        if not self.cross_modality and not self.single_modality:
            raise ConfigError(
                "eval.cross_modality: false leaves nothing to evaluate; name a setting in "
                "eval.single_modality or set eval: null"
            )
        if self.protocol == "official" and not self.permutation_file:
            raise ConfigError(
                "eval.permutation_file: eval.protocol is 'official', so point it to the "
                "SYSU-MM01 kit's rand_perm_cam.mat"
            )
        if self.protocol == "seeded" and self.permutation_file:
            raise ConfigError(
                f"eval.permutation_file is set ({shown(self.permutation_file)}) but "
                "eval.protocol is 'seeded'; set eval.protocol to 'official' to use the file"
            )


@dataclass
class RuntimeConfig:
    strategy: Literal["auto", "one_device", "mirrored"] = "auto"
    workdir: str = "work_dirs/run"
    # XLA-compile each replica's training step: for GPUs; slower on CPUs (docs/experiments.md).
    jit_compile: bool = False


# The settings a paper number can be given for, per data set: SYSU-MM01 "mode/shots", RegDB
# directions (the keys of results.json).
PAPER_SETTINGS = {
    "sysu": ("all/single", "all/multi", "indoor/single", "indoor/multi"),
    "regdb": ("visible_to_thermal", "thermal_to_visible"),
}


@dataclass
class PaperResult:
    """What a config's paper reports for the row the config reproduces (printed and written
    beside our numbers; docs/reproduction.md lists every row)."""

    table: str = ""  # where, e.g. "IJCV 2020 Table 3"
    row: str = ""  # the paper's name of the row
    setting: str = ""  # one of PAPER_SETTINGS[data.dataset]
    rank1: float | None = bounded(None, low=0.0, high=100.0)  # percent
    mAP: float | None = bounded(None, low=0.0, high=100.0)  # percent; None: not reported
    rerank: bool = False  # with k-reciprocal re-ranking (compared with a re-ranked test)
    note: str | None = None

    def __post_init__(self):
        if not (self.table and self.row and self.setting) or self.rank1 is None:
            raise ConfigError(
                "paper: every entry needs table, row, setting and rank1; got table="
                f"{self.table!r} row={self.row!r} setting={self.setting!r} rank1={self.rank1}"
            )


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    method: MethodConfig = field(default_factory=MethodConfig)
    optimizer: OptimizerConfig = field(default_factory=OptimizerConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    eval: EvalConfig | None = field(default_factory=EvalConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    paper: list[PaperResult] | None = None  # the paper's numbers for this config's row

    def __post_init__(self):
        self._check_paper()
        validates = self.train.eval_every and self.eval is not None
        if validates and self.data.dataset == "sysu" and self.data.train_ids == "train_val":
            if not self.train.select_on_test:
                raise ConfigError(
                    "data.train_ids: train.eval_every validates on SYSU-MM01's val ids, which "
                    "train_val trains on; set data.train_ids=train (296 ids) or "
                    "train.eval_every=0"
                )
        if self.data.dataset != "sysu" and self.train.eval_every and not self.train.select_on_test:
            name = {"regdb": "RegDB", "llcm": "LLCM"}[self.data.dataset]
            raise ConfigError(
                f"train.eval_every: {name} has no validation ids; set train.select_on_test=true "
                "to choose checkpoints on the test split, or train.eval_every=0"
            )
        _check_dataset_keys(self)
        if self.optimizer.backbone_lr_scale != 1.0 and self.train.mixed_precision == "float16":
            raise ConfigError(
                "optimizer.backbone_lr_scale != 1 needs two optimizers, each with its own loss "
                "scale; it is not supported with train.mixed_precision=float16"
            )

    def _check_paper(self) -> None:
        valid = PAPER_SETTINGS.get(self.data.dataset, ())
        for index, entry in enumerate(self.paper or ()):
            if entry.setting not in valid:
                raise ConfigError(
                    f"paper[{index}].setting: got {entry.setting!r}, expected a "
                    f"{self.data.dataset} setting: one of {', '.join(valid)}"
                )


# Keys that only one data set reads: {(section, key): that data set}.
DATASET_KEYS = {("data", "regdb_trial"): "regdb"} | {
    ("eval", key): "sysu"
    for key in (
        "protocol",
        "permutation_file",
        "modes",
        "shots",
        "cross_modality",
        "single_modality",
    )
}


def _check_dataset_keys(cfg: Config) -> None:
    """Refuses a key set for another data set (it would silently change nothing)."""
    for (section, key), dataset in DATASET_KEYS.items():
        values = getattr(cfg, section)
        if values is None or cfg.data.dataset == dataset:
            continue
        default = getattr(type(values)(), key)
        if getattr(values, key) != default:
            raise ConfigError(
                f"{section}.{key}: applies to {dataset} only, but data.dataset is "
                f"{cfg.data.dataset}; leave it at its default ({default!r})"
            )


# Keys of earlier tfreid versions, named in the error so an old config is quick to update.
RENAMED = {
    ("data", "num_identities"): "data.identities_per_batch",
    ("data", "num_instances"): "data.images_per_identity",
    ("eval", "flip"): "eval.flip_average",
    ("eval", "regdb_trials"): "data.regdb_trial (a RegDB model is tested on its own trial)",
    ("method", "params", "backbone_lr_scale"): "optimizer.backbone_lr_scale",
}


def load_config(path: str | None = None, overrides: typing.Sequence[str] = ()) -> Config:
    """Reads a YAML config (or the defaults when `path` is None) and applies overrides."""
    values = read_yaml(path) if path else {}
    try:
        for override in overrides:
            apply_override(values, override)
        _check_renamed(values)
        return from_dict(Config, values)
    except ConfigError as err:
        raise ConfigError(f"{path}: {err}" if path else str(err)) from None


def _check_renamed(values: dict) -> None:
    for keys, new in RENAMED.items():
        node = values
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and keys[-1] in node:
            raise ConfigError(f"'{'.'.join(keys)}' is now {new}")


def save_config(cfg: Config, path: str) -> None:
    """Writes the resolved config atomically; `load_config` reads it back unchanged."""
    atomic_write(path, lambda f: yaml.safe_dump(to_dict(cfg), f, sort_keys=False))
