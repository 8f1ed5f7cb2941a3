"""One training run end to end, as tools/train.py does it.

Data (synthetic when asked and missing) -> resolved config saved -> training with periodic
validation and the best checkpoint kept -> SavedModel export -> test protocol and reports.
"""

from __future__ import annotations

import dataclasses
import os
import shutil

import numpy as np
import tensorflow as tf

from tfreid.config import Config, ConfigError, save_config
from tfreid.data import regdb, sysu
from tfreid.data.datasets import training_samples
from tfreid.data.sampling import training_pids
from tfreid.evaluation import report
from tfreid.evaluation.features import distance, extract_features
from tfreid.evaluation.metrics import sysu_same_room
from tfreid.evaluation.protocols import evaluate_protocol
from tfreid.export import embedding_function, export_saved_model
from tfreid.training.loop import checkpoint_for, train
from tfreid.visualize import draw_ranked_list, spread_indices


def prepare_data(cfg: Config) -> None:
    """Writes a synthetic set to `data.root` if `data.synthetic_ids` asks and it is missing.

    The set is written beside `data.root` and renamed into place when complete, so an
    interrupted generation leaves no half-written set that a rerun would take as the data.
    """
    root = os.path.normpath(cfg.data.root)
    if cfg.data.synthetic_ids is None or os.path.exists(root):
        return
    from tfreid.data import synthetic

    print(f"writing a synthetic {cfg.data.dataset} set of {cfg.data.synthetic_ids} ids to {root}")
    write = synthetic.write_sysu if cfg.data.dataset == "sysu" else synthetic.write_regdb
    partial = f"{root}.incomplete"
    shutil.rmtree(partial, ignore_errors=True)
    write(partial, num_ids=cfg.data.synthetic_ids, seed=cfg.train.seed)
    os.rename(partial, root)


def check_eval_config(cfg: Config) -> None:
    if cfg.data.dataset != "regdb" or cfg.eval is None:
        return
    if cfg.eval.regdb_trials != [cfg.data.regdb_trial]:
        raise ConfigError(
            f"eval.regdb_trials: a RegDB model trained on trial {cfg.data.regdb_trial} may only "
            f"be tested on that trial's test split (other trials' test ids are its training "
            f"ids); set eval.regdb_trials=[{cfg.data.regdb_trial}], got {cfg.eval.regdb_trials}"
        )
    if cfg.train.eval_every and not cfg.train.select_on_test:
        raise ConfigError(
            "train.eval_every: RegDB has no validation ids; set train.select_on_test=true to "
            "choose checkpoints on the test split, or train.eval_every=0"
        )


class Validator:
    """Periodic all-search single-shot evaluation; keeps the best checkpoint (R1 + mAP).

    SYSU-MM01 validates on the val ids; the test set is used only with train.select_on_test.
    The best checkpoint holds the number of classes (so `restore_parts` and tools/test.py
    take it) and its score (so a resumed run keeps a better earlier best).
    """

    def __init__(self, cfg: Config, workdir: str):
        self.cfg = cfg
        self.directory = os.path.join(workdir, "checkpoints", "best")
        self.num_classes = tf.Variable(
            len(training_pids(training_samples(cfg.data))), dtype=tf.int64, trainable=False
        )
        self.score = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
        latest = tf.train.latest_checkpoint(self.directory)
        if latest:
            self.score.assign(tf.train.load_variable(latest, "score/.ATTRIBUTES/VARIABLE_VALUE"))
        self.manager = None
        self.eval_cfg = dataclasses.replace(
            cfg.eval,
            modes=["all"],
            shots=[1],
            trials=1,
            rerank=False,
            regdb_trials=[cfg.data.regdb_trial],
        )
        on_test = cfg.train.select_on_test or cfg.data.dataset != "sysu"
        self.pids = None if on_test else sysu.read_ids(cfg.data.root, "val")

    def __call__(self, epoch: int, method, parts, writer) -> None:
        if epoch % self.cfg.train.eval_every:
            return
        embed = embedding_function(method, parts, self.cfg.data)
        results = evaluate_protocol(embed, self.cfg.data, self.eval_cfg, self.pids, progress=False)
        # The first setting: SYSU all-search single-shot, or RegDB visible -> thermal.
        metrics = report.settings(results)[0][1]["mean"]
        rank1, m_ap = float(metrics["cmc"][0]), float(metrics["mAP"])
        print(f"validation after epoch {epoch}: rank-1 {100 * rank1:.2f}  mAP {100 * m_ap:.2f}")
        with writer.as_default(step=epoch):
            tf.summary.scalar("val/rank1", rank1)
            tf.summary.scalar("val/mAP", m_ap)
        if rank1 + m_ap > float(self.score):
            self.score.assign(rank1 + m_ap)
            self.manager = self.manager or tf.train.CheckpointManager(
                checkpoint_for(parts, num_classes=self.num_classes, score=self.score),
                self.directory,
                max_to_keep=1,
            )
            self.manager.save(checkpoint_number=epoch)

    def restore_best(self, parts) -> None:
        latest = tf.train.latest_checkpoint(self.directory)
        if latest:
            print(f"using the best validated checkpoint {latest}")
            checkpoint_for(parts).restore(latest).expect_partial()


def run_training(cfg: Config, workdir: str, progress: bool = True) -> dict | None:
    """Trains, exports `workdir/saved_model` and, with an eval section, writes results.json."""
    check_eval_config(cfg)
    prepare_data(cfg)
    os.makedirs(workdir, exist_ok=True)
    save_config(cfg, os.path.join(workdir, "config.yaml"))
    validator = Validator(cfg, workdir) if cfg.train.eval_every and cfg.eval else None
    method, parts = train(cfg, workdir, progress=progress, on_epoch=validator)
    if validator is not None:
        validator.restore_best(parts)
    export_saved_model(method, parts, cfg.data, os.path.join(workdir, "saved_model"))
    print(f"SavedModel written to {os.path.join(workdir, 'saved_model')}")
    if cfg.eval is None:
        return None
    embed_fn = embedding_function(method, parts, cfg.data)
    return evaluate_and_report(embed_fn, cfg, os.path.join(workdir, "results.json"), progress)


def evaluate_and_report(embed_fn, cfg: Config, results_path: str, progress: bool = True) -> dict:
    """Runs the test protocol; writes results.json, the per-trial numbers and the pictures.

    Beside `results_path` (X.json): X_trials.json, X_cmc.png and X_ranked.png.
    """
    results = evaluate_protocol(embed_fn, cfg.data, cfg.eval, progress=progress)
    stem = os.path.splitext(results_path)[0]
    report.write_json(report.results_json(results, cfg.method.name), results_path)
    report.write_json(report.trials_json(results, cfg.method.name), stem + "_trials.json")
    print(report.format_table(results, cfg.method.name))
    draw_example_ranking(embed_fn, cfg, stem + "_ranked.png")
    try:
        from tfreid.visualize import plot_cmc

        plot_cmc(results, stem + "_cmc.png")
    except ImportError as err:
        print(f"no CMC plot: {err}")
    print(f"results written to {results_path}")
    return results


def draw_example_ranking(embed_fn, cfg: Config, path: str) -> None:
    """Top-10 lists of a few queries: SYSU all-search single-shot trial 0, or RegDB
    visible -> thermal of the first trial; SYSU's camera-2 rule is applied."""
    if cfg.data.dataset == "sysu":
        queries = sysu.query_samples(cfg.data.root)
        permutations = cfg.eval.permutation_file if cfg.eval.protocol == "official" else None
        gallery = sysu.gallery_samples(cfg.data.root, "all", 1, 0, permutations)
    else:
        trial = cfg.eval.regdb_trials[0]
        queries = regdb.split_samples(cfg.data.root, trial, "test", "visible")
        gallery = regdb.split_samples(cfg.data.root, trial, "test", "thermal")
    # Only the queries the picture shows are embedded (all of them would be 3,803 on SYSU).
    queries = [queries[i] for i in spread_indices(len(queries))]
    q = extract_features(embed_fn, queries, cfg.data, cfg.eval.batch_size, cfg.eval.flip, False)
    g = extract_features(embed_fn, gallery, cfg.data, cfg.eval.batch_size, cfg.eval.flip, False)
    distmat = distance(q, g, cfg.eval.distance)
    if cfg.data.dataset == "sysu":
        from_camera3, in_camera2 = sysu_same_room(
            [s.camid for s in queries], [s.camid for s in gallery]
        )
        distmat[np.ix_(from_camera3, in_camera2)] = np.inf
    draw_ranked_list(queries, gallery, distmat, path)
