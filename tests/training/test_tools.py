"""tools/train.py, test.py and export.py as a user runs them: subprocesses, exit statuses,
one-line errors, and the quickstart run end to end (docs/design.md, "Public contracts").

Independent tool processes are started together and then awaited (tests/tools_harness.py), so
their TensorFlow start-ups overlap.
"""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tools_harness import (
    REPO,
    assert_one_line_error,
    finish,
    last_line,
    run_all,
    run_python,
    start,
)

from tfreid.config import load_config
from tfreid.data.sysu import read_ids
from tfreid.evaluation.features import saved_model_embed_fn
from tfreid.export import embedding_function
from tfreid.training.loop import checkpoint_value, restore_parts

QUICKSTART = os.path.join(REPO, "yaml_configs", "quickstart.yaml")


@pytest.mark.parametrize("tool", ["train", "test", "export"])
def test_help_and_missing_arguments(tool):
    helped, bare = run_all((tool, "--help"), (tool,))
    assert helped.returncode == 0, helped.stderr
    assert all(flag in helped.stdout for flag in ("usage:", "--config", "--set"))
    assert bare.returncode == 2
    assert "the following arguments are required: --config" in last_line(bare.stderr)


@pytest.mark.parametrize(
    "tool,args",
    [
        ("train", []),
        ("test", ["--saved-model", REPO]),  # an existing directory: the key is what is wrong
        ("export", ["--checkpoint", "anywhere", "--output", "anywhere"]),
    ],
)
def test_bad_config_key_exits_2_naming_it(tool, args):
    (result,) = run_all((tool, "--config", QUICKSTART, *args, "--set", "train.epoch=3"))
    assert_one_line_error(result, 2, "unknown config key 'train.epoch'", "'train.epochs'")


def test_validating_on_training_ids_exits_2_naming_data_train_ids(tmp_path):
    """A SYSU config on train + val cannot validate on the val ids: refused at load."""
    config = os.path.join(REPO, "yaml_configs", "sysu", "base_derivative.yaml")
    workdir = str(tmp_path / "run")
    args = ("--config", config, "--workdir", workdir, "--set", "train.eval_every=1")
    (result,) = run_all(("train", *args))
    assert_one_line_error(result, 2, f"{config}: data.train_ids:", "set data.train_ids=train")
    assert not os.path.exists(workdir)


def test_missing_model_for_the_test_tool_exits_1_saying_so(tmp_path):
    missing = str(tmp_path / "missing")
    no_checkpoint, no_saved_model = run_all(
        ("test", "--config", QUICKSTART, "--checkpoint", missing),
        ("test", "--config", QUICKSTART, "--saved-model", missing),
    )
    assert_one_line_error(no_checkpoint, 1, f"checkpoint {missing} not found")
    assert_one_line_error(no_saved_model, 1, f"SavedModel directory {missing} does not exist")


# Numbers "a paper" reports for the quickstart's row: one evaluated setting, one re-ranked.
PAPER = (
    "paper=[{table: Table 9, row: quick, setting: indoor/multi, rank1: 12.5, mAP: 10.25},"
    "{table: Table 9, row: quick rr, setting: all/single, rank1: 20.0, rerank: true}]"
)


@pytest.fixture(scope="module")
def quickstart(tmp_path_factory):
    """The quickstart config scaled down: synthetic data written by the run, 1 epoch of 2
    steps on the train ids, validation on the val ids after it, 2 test trials. Returns
    (workdir, data root)."""
    base = tmp_path_factory.mktemp("quickstart")
    workdir, root = str(base / "run"), str(base / "sysu")
    overrides = [
        f"data.root={root}",
        "data.synthetic_ids=8",
        "data.height=32",
        "data.width=16",
        "data.identities_per_batch=2",
        "train.epochs=1",
        "train.steps_per_epoch=2",
        "train.eval_every=1",
        "data.train_ids=train",  # the val ids held out for the validation
        "eval.trials=2",
        "runtime.strategy=one_device",
        PAPER,
    ]
    args = ["--config", QUICKSTART, "--workdir", workdir, "--set", *overrides]
    result = finish(start("train", *args))
    assert result.returncode == 0, result.stderr[-3000:]
    (base / "train_stdout.txt").write_text(result.stdout)
    return workdir, root


@pytest.fixture(scope="module")
def reevaluated(quickstart, tmp_path_factory):
    """tools/test.py on the run's SavedModel and on its last checkpoint, run concurrently."""
    workdir, _ = quickstart
    out = tmp_path_factory.mktemp("reevaluated")
    config = os.path.join(workdir, "config.yaml")
    results = run_all(
        ("test", "--config", config, "--saved-model", os.path.join(workdir, "saved_model"),
         "--output", str(out / "saved_model.json")),
        ("test", "--config", config, "--checkpoint", os.path.join(workdir, "checkpoints"),
         "--output", str(out / "checkpoint.json")),
    )  # fmt: skip
    for result in results:
        assert result.returncode == 0, result.stderr[-3000:]
    (out / "saved_model.stdout").write_text(results[0].stdout)
    return out


def test_quickstart_writes_the_run_directory(quickstart):
    workdir, root = quickstart
    assert os.path.isfile(os.path.join(root, "exp", "train_id.txt"))  # synthetic set written
    cfg = load_config(os.path.join(workdir, "config.yaml"))  # the resolved config
    assert (cfg.data.root, cfg.data.height, cfg.data.width) == (root, 32, 16)
    assert (cfg.model.encoding, cfg.model.head) == ("gray", "bnneck")
    assert (cfg.optimizer.name, cfg.train.epochs) == ("adam", 1)
    checkpoints = os.path.join(workdir, "checkpoints")
    assert os.path.isfile(os.path.join(checkpoints, "ckpt-2.index"))
    # data.train_ids=train: the classifier has one class per train id, none for the val ids
    classes = checkpoint_value(os.path.join(checkpoints, "ckpt-2"), "num_classes")
    assert (
        classes
        == len(read_ids(root, "train"))
        < len(read_ids(root, "train") + read_ids(root, "val"))
    )
    assert tf.train.latest_checkpoint(os.path.join(checkpoints, "best")) is not None
    logs = os.listdir(os.path.join(workdir, "logs"))
    assert any(name.startswith("events.out.tfevents") for name in logs)
    assert tf.saved_model.contains_saved_model(os.path.join(workdir, "saved_model"))
    for name in ("results_trials.json", "results_cmc.png", "results_ranked.png"):
        assert os.path.isfile(os.path.join(workdir, name)), name


def test_quickstart_logs_losses_and_validation(quickstart):
    workdir, _ = quickstart
    tags = {}
    logdir = os.path.join(workdir, "logs")
    for name in os.listdir(logdir):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(logdir, name)):
            for value in event.summary.value:
                tags.setdefault(value.tag, set()).add(event.step)
    assert (
        tags["loss/total"] == tags["loss/id"] == tags["learning_rate/model"] == {2}
    )  # log_every 10
    assert tags["val/rank1"] == tags["val/mAP"] == {1}  # after epoch 1


def test_results_json_has_the_design_schema(quickstart):
    workdir, _ = quickstart
    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    assert list(results) == ["dataset", "method", "protocol", "trials", "sysu", "paper"]
    assert results["dataset"] == "sysu" and results["method"] == "softmax"
    assert results["protocol"] == "seeded" and results["trials"] == 2
    assert set(results["sysu"]) == {"all", "indoor"}
    for mode in ("all", "indoor"):
        assert set(results["sysu"][mode]) == {"single", "multi"}
        for shots in ("single", "multi"):
            metrics = results["sysu"][mode][shots]
            keys = ["rank1", "rank5", "rank10", "rank20", "mAP", "mINP"]
            assert list(metrics) == [*keys, "std"] and list(metrics["std"]) == keys
            values = [metrics[key] for key in keys]
            assert all(0.0 <= v <= 100.0 and round(v, 2) == v for v in values), metrics
            assert values[:4] == sorted(values[:4])  # the CMC never decreases
            assert all(v >= 0.0 and round(v, 2) == v for v in metrics["std"].values())


def test_the_test_tool_prints_every_setting_with_its_spread(quickstart, reevaluated):
    workdir, _ = quickstart
    with open(os.path.join(workdir, "results_trials.json")) as f:
        per_trial = json.load(f)["sysu"]
    lines = (reevaluated / "saved_model.stdout").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("setting"))
    assert "mean ± sample std over 2 trial(s)" in lines[header - 1]
    names = ["all / single-shot", "all / multi-shot", "indoor / single-shot", "indoor / multi-shot"]
    for line, name in zip(lines[header + 2 : header + 6], names, strict=True):
        assert line.startswith(name) and line.count("±") == 6, line
        mode, shot = name.split(" / ")
        trials = per_trial[mode][shot.replace("-shot", "")]
        rank1 = [trial["rank1"] for trial in trials]  # the std of the printed trials
        mean, std = line[len(name) :].split()[:3:2]
        assert float(mean) == pytest.approx(np.mean(rank1), abs=0.011)
        assert float(std) == pytest.approx(np.std(rank1, ddof=1), abs=0.011)


def test_paper_numbers_are_printed_and_written_beside_ours(quickstart):
    """The config's paper section: in results.json with our numbers of the same setting (or
    null: not re-ranked here), and printed after the table, tools/test.py alike (next test)."""
    workdir, _ = quickstart
    with open(os.path.join(workdir, "results.json")) as f:
        results = json.load(f)
    ours = results["sysu"]["indoor"]["multi"]
    first = {"table": "Table 9", "row": "quick", "setting": "indoor/multi", "rank1": 12.5}
    first.update(mAP=10.25, rerank=False, note=None, ours={"rank1": ours["rank1"]})
    first["ours"]["mAP"] = ours["mAP"]
    second = {"table": "Table 9", "row": "quick rr", "setting": "all/single", "rank1": 20.0}
    second.update(mAP=None, rerank=True, note=None, ours=None)
    assert results["paper"] == [first, second]
    with open(os.path.join(os.path.dirname(workdir), "train_stdout.txt")) as f:
        printed = f.read().splitlines()
    cells = [f"{v:.2f}" for v in (12.5, ours["rank1"], 10.25, ours["mAP"])]
    line = ["indoor", "/", "multi-shot", "Table", "9,", "quick", *cells]
    assert line in [row.split() for row in printed]
    assert not any("quick rr" in row for row in printed)


def test_test_tool_reproduces_the_run_results(quickstart, reevaluated):
    workdir, _ = quickstart
    with open(os.path.join(workdir, "results.json")) as f:
        expected = json.load(f)
    for name in ("saved_model.json", "checkpoint.json"):
        with open(reevaluated / name) as f:
            assert json.load(f) == expected, name


def test_best_checkpoint_holds_the_exported_model(quickstart):
    """One epoch, so the best validated checkpoint holds the final weights the run exported;
    it restores by itself (tools/test.py and tools/export.py take it)."""
    workdir, _ = quickstart
    cfg = load_config(os.path.join(workdir, "config.yaml"))
    parts = restore_parts(cfg, os.path.join(workdir, "checkpoints", "best"))
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (4, 48, 20, 3), dtype=np.uint8))
    modality = tf.constant([0, 1, 1, 0], tf.int32)
    best = embedding_function(parts, cfg.data)(images, modality).numpy()
    exported = saved_model_embed_fn(os.path.join(workdir, "saved_model"))(images, modality)
    np.testing.assert_allclose(best, exported.numpy(), rtol=1e-5, atol=1e-5)


def test_a_bad_config_value_stops_the_tool_before_tensorflow_starts(tmp_path):
    """`--set eval.modes=[al]` costs no training run, no data, not even TensorFlow's start."""
    code = (
        "import runpy, sys\n"
        f"sys.argv = ['train.py', '--config', {QUICKSTART!r}, '--set', 'eval.modes=[al]',"
        f" '--workdir', {str(tmp_path / 'run')!r}]\n"
        "try:\n"
        f"    runpy.run_path({os.path.join(REPO, 'tools', 'train.py')!r}, run_name='__main__')\n"
        "except SystemExit as exit:\n"
        "    assert exit.code == 2, exit.code\n"
        "assert 'tensorflow' not in sys.modules, 'TensorFlow was imported'\n"
    )
    result = run_python("-c", code, cwd=str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    assert last_line(result.stderr) == (
        f"error: {QUICKSTART}: eval.modes[0]: got 'al' (str), expected one of 'all', 'indoor'"
    )
    assert os.listdir(tmp_path) == []  # no data set, no work dir
