import json
import os
import re

import numpy as np
import pytest

from tfreid.evaluation.report import (
    format_table,
    percentages,
    results_json,
    trials_json,
    write_json,
)

METRIC_KEYS = ["rank1", "rank5", "rank10", "rank20", "mAP", "mINP"]


def metrics(seed, trial=None):
    rng = np.random.default_rng(seed)
    values = {"cmc": np.sort(rng.uniform(size=20)), "mAP": rng.uniform(), "mINP": rng.uniform()}
    return values if trial is None else {"trial": trial, **values}


def summary(seed, trials):
    per_trial = [metrics(seed * 100 + t, t) for t in trials]
    mean = {
        "cmc": np.mean([m["cmc"] for m in per_trial], axis=0),
        "mAP": float(np.mean([m["mAP"] for m in per_trial])),
        "mINP": float(np.mean([m["mINP"] for m in per_trial])),
    }
    return {"mean": mean, "per_trial": per_trial}


def sysu_results(settings=(("indoor", "single"), ("all", "multi"), ("all", "single"))):
    runs = {}
    for seed, (mode, shot) in enumerate(settings):
        runs.setdefault(mode, {})[shot] = summary(seed, range(10))
    return {
        "dataset": "sysu",
        "protocol": "official",
        "trials": list(range(10)),
        "distance": "cosine",
        "flip": False,
        "rerank": True,
        "results": runs,
    }


def regdb_results():
    return {
        "dataset": "regdb",
        "trials": [1, 3],
        "distance": "euclidean",
        "flip": True,
        "rerank": False,
        "results": {
            "thermal_to_visible": summary(7, [1, 3]),
            "visible_to_thermal": summary(8, [1, 3]),
        },
    }


def expected_percentages(values):
    cmc = values["cmc"]
    raw = [cmc[0], cmc[4], cmc[9], cmc[19], values["mAP"], values["mINP"]]
    return dict(zip(METRIC_KEYS, [round(100 * float(v), 2) for v in raw], strict=True))


def test_percentages_by_hand():
    cmc = np.linspace(0.1, 1.0, 20)
    got = percentages({"cmc": cmc, "mAP": 0.123456, "mINP": 0.0005})
    assert got == {
        "rank1": 10.0,
        "rank5": round(100 * (0.1 + 4 * 0.9 / 19), 2),
        "rank10": round(100 * (0.1 + 9 * 0.9 / 19), 2),
        "rank20": 100.0,
        "mAP": 12.35,
        "mINP": 0.05,
    }
    with pytest.raises(ValueError, match="eval.max_rank >= 20"):
        percentages({"cmc": cmc[:10], "mAP": 0.5, "mINP": 0.5})


def test_sysu_json_exactly_as_design():
    results = sysu_results()
    got = results_json(results, "fmsp")
    assert list(got) == ["dataset", "method", "protocol", "trials", "sysu"]
    assert got["dataset"] == "sysu" and got["method"] == "fmsp"
    assert got["protocol"] == "official" and got["trials"] == 10
    # Papers' order whatever order the run produced; indoor multi-shot was not run: absent.
    assert list(got["sysu"]) == ["all", "indoor"]
    assert list(got["sysu"]["all"]) == ["single", "multi"]
    assert list(got["sysu"]["indoor"]) == ["single"]
    for mode, shot in (("all", "single"), ("all", "multi"), ("indoor", "single")):
        values = got["sysu"][mode][shot]
        assert list(values) == METRIC_KEYS
        assert values == expected_percentages(results["results"][mode][shot]["mean"])
    numbers = re.findall(r"\d+\.\d+", json.dumps(got))
    assert len(numbers) == 3 * 6
    assert all(len(number.split(".")[1]) <= 2 for number in numbers)  # two decimals at most


def test_regdb_json_exactly_as_design():
    results = regdb_results()
    got = results_json(results, "hpiln")
    assert got == {
        "dataset": "regdb",
        "method": "hpiln",
        "trials": [1, 3],
        "regdb": {
            "visible_to_thermal": expected_percentages(
                results["results"]["visible_to_thermal"]["mean"]
            ),
            "thermal_to_visible": expected_percentages(
                results["results"]["thermal_to_visible"]["mean"]
            ),
        },
    }
    assert list(got["regdb"]) == ["visible_to_thermal", "thermal_to_visible"]


def test_trials_json_lists_every_trial():
    results = sysu_results()
    got = trials_json(results, "fmsp")
    per_trial = got["sysu"]["all"]["multi"]
    assert [t["trial"] for t in per_trial] == list(range(10))
    source = results["results"]["all"]["multi"]["per_trial"]
    for row, metrics_of_trial in zip(per_trial, source, strict=True):
        assert {k: v for k, v in row.items() if k != "trial"} == expected_percentages(
            metrics_of_trial
        )
    assert trials_json(regdb_results(), "x")["regdb"]["thermal_to_visible"][1]["trial"] == 3


def test_write_json_is_atomic_and_round_trips(tmp_path):
    path = tmp_path / "run" / "results.json"
    obj = results_json(sysu_results(), "fmsp")
    write_json({"old": 1}, str(path))
    write_json(obj, str(path))
    with open(path, encoding="utf-8") as f:
        assert json.load(f) == obj
    assert os.listdir(path.parent) == ["results.json"]  # no temporary file left behind


def test_format_table_sysu():
    results = sysu_results()
    lines = format_table(results, "fmsp").splitlines()
    assert lines[0] == (
        "fmsp: SYSU-MM01, official gallery selection, mean over 10 trial(s) (0-9); "
        "cosine distance, flip TTA off, re-ranking on"
    )
    assert lines[1].split() == ["setting", "R1", "R5", "R10", "R20", "mAP", "mINP"]
    assert set(lines[2]) == {"-"}
    rows = [("all / single-shot", "all", "single"), ("all / multi-shot", "all", "multi")]
    rows.append(("indoor / single-shot", "indoor", "single"))
    assert len(lines) == 3 + len(rows)
    for line, (name, mode, shot) in zip(lines[3:], rows, strict=True):
        assert line.startswith(name)
        numbers = line[len(name) :].split()
        expected = expected_percentages(results["results"][mode][shot]["mean"]).values()
        assert numbers == [f"{v:.2f}" for v in expected]


def test_format_table_regdb():
    results = regdb_results()
    lines = format_table(results).splitlines()
    assert lines[0] == (
        "RegDB, mean over trial(s) 1, 3; euclidean distance, flip TTA on, re-ranking off"
    )
    assert lines[3].startswith("visible -> thermal") and lines[4].startswith("thermal -> visible")
    expected = expected_percentages(results["results"]["thermal_to_visible"]["mean"])
    assert lines[4].split()[3:] == [f"{v:.2f}" for v in expected.values()]
