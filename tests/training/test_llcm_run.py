"""LLCM end to end as a user runs it: tools/train.py on a tiny synthetic LLCM set it writes, then
tools/test.py on held-out LLCM-layout data with --features, and every number recomputed from
the written embeddings by an independent port of the authors' protocol."""

import json
import os
import shutil

import numpy as np
import pytest
from evaluation import reference_llcm
from tools_harness import REPO, assert_one_line_error, finish, start

from tfreid.data import synthetic_llcm

QUICKSTART = os.path.join(REPO, "yaml_configs", "quickstart.yaml")
TRIALS = 3
TINY = [
    "data.dataset=llcm",
    "data.height=32",
    "data.width=16",
    "data.identities_per_batch=2",
    "train.epochs=1",
    "train.steps_per_epoch=2",
    f"eval.trials={TRIALS}",
    "runtime.strategy=one_device",
]


@pytest.fixture(scope="module")
def llcm_run(tmp_path_factory):
    """(work dir, held-out root, test output dir, test.py's result) after training on a synthetic
    LLCM set written by the run and testing the SavedModel on another one (other people)."""
    base = tmp_path_factory.mktemp("llcm_run")
    workdir, root = str(base / "run"), str(base / "llcm")
    train = finish(
        start(
            "train", "--config", QUICKSTART, "--workdir", workdir,
            "--set", f"data.root={root}", "data.synthetic_ids=9", *TINY,
        )
    )  # fmt: skip
    assert train.returncode == 0, train.stderr[-3000:]
    held_out = synthetic_llcm.write_llcm(str(base / "held_out"), 12, 7, 32, 16)
    out = base / "test"
    tested = finish(
        start(
            "test", "--config", os.path.join(workdir, "config.yaml"),
            "--saved-model", os.path.join(workdir, "saved_model"),
            "--set", f"data.root={held_out}",
            "--output", str(out / "results.json"), "--features", str(out / "features.npz"),
        )
    )  # fmt: skip
    assert tested.returncode == 0, tested.stderr[-3000:]
    return workdir, held_out, out, tested


def test_tools_test_equals_the_authors_protocol_recomputed_from_the_features(llcm_run):
    _, root, out, _ = llcm_run
    with open(out / "results.json") as f:
        results = json.load(f)
    assert (results["dataset"], results["trials"]) == ("llcm", TRIALS)
    with np.load(out / "features.npz") as features:
        assert features["embedding"].dtype == np.float32 and features["embedding"].ndim == 2
        embedding_of = dict(zip(features["path"], features["embedding"], strict=True))
        assert set(features["modality"]) == {0, 1}
        for path, modality in zip(features["path"], features["modality"], strict=True):
            assert path.startswith(("test_vis/", "test_nir/"))
            assert modality == int(path.startswith("test_nir/"))
    for direction in ("ir_to_vis", "vis_to_ir"):
        per_trial = reference_llcm.protocol(root, embedding_of, direction, TRIALS)
        cmc, m_ap, m_inp = (100 * np.mean(v, axis=0) for v in zip(*per_trial, strict=True))
        got = results["llcm"][direction]
        assert abs(got["rank1"] - cmc[0]) <= 0.01 and abs(got["rank10"] - cmc[9]) <= 0.01
        assert abs(got["mAP"] - m_ap) <= 0.01 and abs(got["mINP"] - m_inp) <= 0.01, direction
        spread = 100 * np.std([trial[1] for trial in per_trial], ddof=1)
        assert abs(got["std"]["mAP"] - spread) <= 0.01, direction


def test_tools_test_prints_both_directions_with_spread_and_writes_the_rest(llcm_run):
    _, _, out, tested = llcm_run
    lines = tested.stdout.splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("setting"))
    assert "mean ± sample std over 3 trial(s)" in lines[header - 1]
    rows = lines[header + 2 : header + 4]
    assert rows[0].startswith("IR -> visible") and rows[1].startswith("visible -> IR")
    assert all(row.count("±") == 6 for row in rows)
    assert "embeddings of " in tested.stdout and "features.npz" in tested.stdout
    with open(out / "results_trials.json") as f:
        per_trial = json.load(f)["llcm"]
    assert [row["trial"] for row in per_trial["vis_to_ir"]] == list(range(TRIALS))
    for name in ("results_cmc.png", "results_ranked.png"):
        assert (out / name).stat().st_size > 1000, name


def test_bad_llcm_lists_stop_the_run_before_training(llcm_run, tmp_path):
    workdir, root, _, _ = llcm_run
    broken = str(tmp_path / "broken")
    shutil.copytree(root, broken)
    path = os.path.join(broken, "idx", "train_vis.txt")
    lines = open(path).read().splitlines(keepends=True)
    lines[1] = lines[1].split(" ")[0] + "\n"  # the label left out
    open(path, "w").write("".join(lines))
    run = str(tmp_path / "run")
    result = finish(
        start(
            "train", "--config", QUICKSTART, "--workdir", run, "--set", f"data.root={broken}", *TINY
        )
    )
    assert_one_line_error(result, 1, f"{path} line 2: expected 'relative/path label'")
    assert not os.path.exists(run)
