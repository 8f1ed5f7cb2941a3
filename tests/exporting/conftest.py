"""The quickstart model trained two steps on a tiny SYSU-MM01-layout set, once per session."""

import os

import pytest
from serving_harness import quickstart_config, write_sysu_set


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory):
    """(cfg, checkpoint directory) of the quickstart config (its training precision: bfloat16
    where the machine computes it natively, else float32) at 32x16, two steps."""
    from tfreid.training.loop import train

    base = tmp_path_factory.mktemp("quickstart")
    cfg = quickstart_config(write_sysu_set(str(base / "sysu")))
    train(cfg, str(base / "run"), progress=False)
    return cfg, os.path.join(str(base / "run"), "checkpoints")
