"""A tiny SYSU-MM01-layout set and two random-weight quickstart SavedModels, once per session."""

import os

import pytest
from serving_harness import quickstart_config, random_weights_saved_model, write_sysu_set


@pytest.fixture(scope="session")
def sysu_set(tmp_path_factory) -> str:
    """8 ids at 32x16: about 380 RGB and 180 IR images."""
    return write_sysu_set(str(tmp_path_factory.mktemp("search_data") / "sysu"))


@pytest.fixture(scope="session")
def saved_model(sysu_set, tmp_path_factory) -> str:
    cfg = quickstart_config(sysu_set, "train.mixed_precision=none")
    return random_weights_saved_model(cfg, str(tmp_path_factory.mktemp("models") / "a"), seed=0)


@pytest.fixture(scope="session")
def other_saved_model(sysu_set, tmp_path_factory) -> str:
    """The same architecture with other weights: another model."""
    cfg = quickstart_config(sysu_set, "train.mixed_precision=none")
    return random_weights_saved_model(cfg, str(tmp_path_factory.mktemp("models") / "b"), seed=1)


@pytest.fixture
def gallery_dir(sysu_set) -> str:
    """The RGB camera 1 of the set: a plain folder (cam1/PPPP/*.jpg gives ids)."""
    return os.path.join(sysu_set, "cam1")
