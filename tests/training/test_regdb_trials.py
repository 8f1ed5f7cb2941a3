"""RegDB's spread: a model per trial, scored together by tools/test.py through `{trial}`."""

import json

import numpy as np
import pytest
from tools_harness import assert_one_line_error, finish, start

from tfreid.config import save_config
from tfreid.training.run import run_training

KEYS = ("rank1", "rank5", "rank10", "rank20", "mAP", "mINP")


@pytest.fixture(scope="module")
def two_trials(tiny_config, regdb_root, tmp_path_factory):
    """(config path, runs dir) after one tiny run per trial 1 and 2, each with its results."""
    base = tmp_path_factory.mktemp("regdb_trials")
    for trial in (1, 2):
        cfg = tiny_config(regdb_root, f"data.regdb_trial={trial}", dataset="regdb")
        run_training(cfg, str(base / f"t{trial}"), progress=False)
    config = str(base / "config.yaml")
    save_config(tiny_config(regdb_root, dataset="regdb"), config)
    return config, base


def test_each_trial_is_scored_with_its_own_model_and_the_spread_is_theirs(two_trials):
    config, base = two_trials
    pattern = str(base / "t{trial}" / "saved_model")
    out = base / "together.json"
    result = finish(
        start("test", "--config", config, "--saved-model", pattern, "--output", str(out))
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"RegDB, one model per trial: trial(s) 1, 2 ({pattern})" in result.stdout
    with open(out) as f:
        together = json.load(f)
    assert together["trials"] == [1, 2]
    alone = []
    for trial in (1, 2):
        with open(base / f"t{trial}" / "results.json") as f:
            alone.append(json.load(f)["regdb"])
    for direction in ("visible_to_thermal", "thermal_to_visible"):
        got = together["regdb"][direction]
        for key in KEYS:  # each run's own numbers, averaged, and their sample std
            values = [run[direction][key] for run in alone]
            assert got[key] == pytest.approx(np.mean(values), abs=0.011), (direction, key)
            assert got["std"][key] == pytest.approx(np.std(values, ddof=1), abs=0.011)
    rows = [line for line in result.stdout.splitlines() if " -> " in line]
    assert len(rows) == 2 and all(row.count("±") == 6 for row in rows)


def test_a_trial_pattern_needs_regdb_and_a_model(two_trials, tmp_path):
    config, base = two_trials
    sysu = str(tmp_path / "sysu.yaml")
    with open(config) as f:
        text = f.read().replace("dataset: regdb", "dataset: sysu")
    with open(sysu, "w") as f:
        f.write(text)
    pattern = str(base / "t{trial}" / "saved_model")
    not_regdb, no_model = [
        finish(process)
        for process in (
            start("test", "--config", sysu, "--saved-model", pattern),
            start("test", "--config", config, "--saved-model", str(tmp_path / "x{trial}")),
        )
    ]
    assert_one_line_error(not_regdb, 2, "one model per trial is RegDB's protocol")
    assert_one_line_error(no_model, 1, f"no model at {tmp_path / 'x{trial}'} for any RegDB trial")
