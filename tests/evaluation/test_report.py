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

    def over_trials(reduce):
        return {key: reduce([m[key] for m in per_trial]) for key in ("cmc", "mAP", "mINP")}

    mean = over_trials(lambda values: np.mean(values, axis=0))
    std = over_trials(lambda values: np.std(values, axis=0, ddof=1)) if len(trials) > 1 else None
    return {"mean": mean, "std": std, "per_trial": per_trial}


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


def expected_leaf(summary_of_setting):
    """The mean's percentages and the sample std's, the std written out from the trials."""
    per_trial = summary_of_setting["per_trial"]
    std = None
    if len(per_trial) > 1:
        sample_std = {}
        for key in ("cmc", "mAP", "mINP"):
            values = np.array([m[key] for m in per_trial])
            squares = ((values - values.mean(axis=0)) ** 2).sum(axis=0)
            sample_std[key] = np.sqrt(squares / (len(per_trial) - 1))
        std = expected_percentages(sample_std)
    return {**expected_percentages(summary_of_setting["mean"]), "std": std}


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
        assert list(values) == [*METRIC_KEYS, "std"]
        assert list(values["std"]) == METRIC_KEYS
        assert values == expected_leaf(results["results"][mode][shot])
    numbers = re.findall(r"\d+\.\d+", json.dumps(got))
    assert len(numbers) == 3 * 6 * 2
    assert all(len(number.split(".")[1]) <= 2 for number in numbers)  # two decimals at most


def test_regdb_json_exactly_as_design():
    results = regdb_results()
    got = results_json(results, "hpiln")
    assert got == {
        "dataset": "regdb",
        "method": "hpiln",
        "trials": [1, 3],
        "regdb": {
            "visible_to_thermal": expected_leaf(results["results"]["visible_to_thermal"]),
            "thermal_to_visible": expected_leaf(results["results"]["thermal_to_visible"]),
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


def table_cells(line, name):
    """The numbers of one table row: [(mean, std or None)] per column."""
    cells = re.findall(r"(\d+\.\d\d)(?: ±\s*(\d+\.\d\d))?", line[len(name) :])
    return [(mean, std or None) for mean, std in cells]


def expected_cells(summary_of_setting):
    leaf = expected_leaf(summary_of_setting)
    std = leaf["std"]
    return [(f"{leaf[k]:.2f}", None if std is None else f"{std[k]:.2f}") for k in METRIC_KEYS]


def test_format_table_sysu():
    results = sysu_results()
    lines = format_table(results, "fmsp").splitlines()
    assert lines[0] == (
        "fmsp: SYSU-MM01, official gallery selection, mean ± sample std over 10 trial(s) (0-9); "
        "cosine distance, flip TTA off, re-ranking on"
    )
    assert lines[1].split() == ["setting", "R1", "R5", "R10", "R20", "mAP", "mINP"]
    assert set(lines[2]) == {"-"}
    rows = [("all / single-shot", "all", "single"), ("all / multi-shot", "all", "multi")]
    rows.append(("indoor / single-shot", "indoor", "single"))
    assert len(lines) == 3 + len(rows)
    for line, (name, mode, shot) in zip(lines[3:], rows, strict=True):
        assert line.startswith(name)
        assert table_cells(line, name) == expected_cells(results["results"][mode][shot])


def test_format_table_regdb():
    results = regdb_results()
    lines = format_table(results).splitlines()
    assert lines[0] == (
        "RegDB, mean ± sample std over 2 trial(s) (1, 3); euclidean distance, flip TTA on, "
        "re-ranking off"
    )
    assert lines[3].startswith("visible -> thermal") and lines[4].startswith("thermal -> visible")
    name = "thermal -> visible"
    expected = expected_cells(results["results"]["thermal_to_visible"])
    assert table_cells(lines[4], name) == expected


def llcm_results(trials=range(10)):
    return {
        "dataset": "llcm",
        "trials": list(trials),
        "distance": "cosine",
        "flip": False,
        "rerank": False,
        "results": {"vis_to_ir": summary(3, trials), "ir_to_vis": summary(4, trials)},
    }


def test_llcm_json_table_and_trials():
    results = llcm_results()
    got = results_json(results, "softmax")
    assert list(got) == ["dataset", "method", "trials", "llcm"]
    assert got["dataset"] == "llcm" and got["trials"] == 10
    assert list(got["llcm"]) == ["ir_to_vis", "vis_to_ir"]  # the authors' order
    for direction in ("ir_to_vis", "vis_to_ir"):
        assert got["llcm"][direction] == expected_leaf(results["results"][direction])
    lines = format_table(results, "softmax").splitlines()
    assert lines[0].startswith("softmax: LLCM, the authors' seeded gallery draws, mean ± sample")
    assert lines[3].startswith("IR -> visible")
    assert lines[4].startswith("visible -> IR (NIR draws query)")
    name = "IR -> visible"
    assert table_cells(lines[3], name) == expected_cells(results["results"]["ir_to_vis"])
    per_trial = trials_json(results, "softmax")["llcm"]["vis_to_ir"]
    assert [row["trial"] for row in per_trial] == list(range(10))


def test_one_trial_has_no_spread():
    results = llcm_results(trials=[0])
    got = results_json(results, "softmax")
    assert got["llcm"]["ir_to_vis"]["std"] is None
    lines = format_table(results).splitlines()
    assert "trial 0 only (one trial: no spread)" in lines[0] and "±" not in "".join(lines[1:])
    name = "IR -> visible"
    assert table_cells(lines[3], name) == expected_cells(results["results"]["ir_to_vis"])


def test_single_modality_rows_follow_the_cross_modality_ones():
    results = sysu_results(settings=(("all", "single"),))
    results["results"]["single_modality"] = {"ir_to_ir": summary(9, range(10))}
    got = results_json(results, "softmax")
    assert list(got["sysu"]) == ["all", "single_modality"]
    assert got["sysu"]["single_modality"]["ir_to_ir"] == expected_leaf(
        results["results"]["single_modality"]["ir_to_ir"]
    )
    lines = format_table(results).splitlines()
    assert lines[3].startswith("all / single-shot")
    assert lines[4].startswith("single-modality / IR -> IR")
