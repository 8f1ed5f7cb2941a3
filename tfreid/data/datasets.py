"""Training and test samples of the configured data set (SYSU-MM01, RegDB or LLCM) from its
real layout."""

from __future__ import annotations

from tfreid.config import DataConfig
from tfreid.data import llcm, regdb, sysu
from tfreid.data.samples import IR, RGB, Sample


def training_samples(cfg: DataConfig) -> list[Sample]:
    """SYSU: the `cfg.train_ids` ids (train + val or train), all cameras. RegDB: the train split
    of `cfg.regdb_trial`. LLCM: both training lists."""
    if cfg.dataset == "sysu":
        return sysu.train_samples(cfg.root, cfg.train_ids)
    if cfg.dataset == "llcm":
        return llcm.train_samples(cfg.root)
    return _regdb_split(cfg, "train")


def test_samples(cfg: DataConfig) -> list[Sample]:
    """Every image the test protocol may read. SYSU: every image of the test ids (queries and
    all gallery draws). RegDB: the test split of `cfg.regdb_trial`. LLCM: every visible and
    NIR test image (each is a query in one direction)."""
    if cfg.dataset == "sysu":
        return sysu.test_samples(cfg.root)
    if cfg.dataset == "llcm":
        return llcm.test_samples(cfg.root, RGB) + llcm.test_samples(cfg.root, IR)
    return _regdb_split(cfg, "test")


def _regdb_split(cfg: DataConfig, split: str) -> list[Sample]:
    return [
        sample
        for modality in ("visible", "thermal")
        for sample in regdb.split_samples(cfg.root, cfg.regdb_trial, split, modality)
    ]
