"""Training samples of the configured data set (SYSU-MM01 or RegDB) from its real layout."""

from __future__ import annotations

from tfreid.config import DataConfig
from tfreid.data import regdb, sysu
from tfreid.data.samples import Sample


def training_samples(cfg: DataConfig) -> list[Sample]:
    """SYSU: train + val ids, all cameras. RegDB: the train split of `cfg.regdb_trial`."""
    if cfg.dataset == "sysu":
        return sysu.train_samples(cfg.root)
    return regdb.split_samples(cfg.root, cfg.regdb_trial, "train", "visible") + regdb.split_samples(
        cfg.root, cfg.regdb_trial, "train", "thermal"
    )
