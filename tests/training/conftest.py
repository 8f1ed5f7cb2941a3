"""Shared fixtures of the training tests: tiny synthetic data sets and one short training run.

Everything is 32x16 with ResNet-6 on one device, so the slow parts (writing data, tracing the
training step) happen once per session.
"""

import os

import pytest
from knobs import read_knobs

from tfreid.config import Config, load_config
from tfreid.data import synthetic

HEIGHT, WIDTH = 32, 16


def _tiny_config(root: str, *overrides: str, dataset: str = "sysu") -> Config:
    """A ResNet-6 softmax run on 32x16 images, P=2 ids x K=2 images, 2 epochs of 2 steps."""
    return load_config(
        None,
        [
            f"data.dataset={dataset}",
            f"data.root={root}",
            f"data.height={HEIGHT}",
            f"data.width={WIDTH}",
            "data.pad=2",
            "data.identities_per_batch=2",
            "data.images_per_identity=2",
            "model.backbone=resnet6",
            *read_knobs(overrides, feature_dim=16),
            "train.epochs=2",
            "train.steps_per_epoch=2",
            "train.log_every=1",
            "runtime.strategy=one_device",
            "eval.trials=1",
            "train.mixed_precision=none",  # the same numbers on every machine
            *overrides,
        ],
    )


@pytest.fixture(scope="session")
def tiny_config():
    """`tiny_config(root, *overrides, dataset="sysu")` -> Config (see `_tiny_config`)."""
    return _tiny_config


@pytest.fixture(scope="session")
def sysu_root(tmp_path_factory) -> str:
    """A SYSU-MM01-layout set of 8 ids (train 1, 2, 6, 8; val 4, 7; test 3, 5)."""
    out = os.path.join(tmp_path_factory.mktemp("data"), "sysu")
    return synthetic.write_sysu(out, num_ids=8, seed=0, height=HEIGHT, width=WIDTH)


@pytest.fixture(scope="session")
def regdb_root(tmp_path_factory) -> str:
    """A RegDB-layout set of 4 ids: 2 train and 2 test ids per trial."""
    out = os.path.join(tmp_path_factory.mktemp("data"), "regdb")
    return synthetic.write_regdb(out, num_ids=4, seed=0, height=HEIGHT, width=WIDTH)


@pytest.fixture(scope="session")
def straight_run(sysu_root, tmp_path_factory):
    """(cfg, workdir, parts) of an uninterrupted Adam + warm-up + cosine run of an
    asymmetric-FC zero-padding model (its embedding depends on the modality).

    Adam's moments and the schedule depend on the restored optimizer state, so a resume that
    lost it would not reproduce these weights.
    """
    from tfreid.training.loop import train

    cfg = _tiny_config(
        sysu_root,
        "model.structure=asymmetric_fc",
        "model.encoding=zero_padding",
        "optimizer.name=adam",
        "optimizer.learning_rate=0.01",
        "optimizer.schedule=cosine",
        "optimizer.warmup_epochs=1",
    )
    workdir = str(tmp_path_factory.mktemp("straight"))
    parts = train(cfg, workdir, progress=False)
    return cfg, workdir, parts
