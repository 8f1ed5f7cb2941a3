"""The quickstart model trained two steps on a tiny SYSU-MM01-layout set, once per session."""

import os

import numpy as np
import pytest
from serving_harness import quickstart_config, write_sysu_set


@pytest.fixture(scope="session")
def quickstart_run(tmp_path_factory):
    """(cfg, checkpoint directory) of the quickstart config at 32x16, two steps, float32 (the
    bfloat16 bound has its own test).

    Its weights must be finite: one bfloat16 run of this fixture (not reproduced in seven
    more) left NaN in a convolution kernel; TensorFlow's graph still returned finite
    embeddings, LiteRT's NaN, and the parity check refused the LiteRT export.
    """
    from tfreid.training.loop import train

    base = tmp_path_factory.mktemp("quickstart")
    cfg = quickstart_config(write_sysu_set(str(base / "sysu")), "train.mixed_precision=none")
    parts = train(cfg, str(base / "run"), progress=False)
    broken = [w.path for w in parts.serving.weights if not np.isfinite(w.numpy()).all()]
    assert not broken, f"training left non-finite weights in {broken} (a training problem)"
    return cfg, os.path.join(str(base / "run"), "checkpoints")
