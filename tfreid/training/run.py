"""One training run end to end, as tools/train.py does it.

Data (synthetic when asked and missing) -> resolved config saved -> training with periodic
validation and the best checkpoint kept -> SavedModel export -> test protocol and reports.
"""

from __future__ import annotations

import dataclasses
import os

import tensorflow as tf

from tfreid.config import Config, save_config
from tfreid.data import sysu
from tfreid.data.check import require_readable
from tfreid.data.datasets import test_samples, training_samples
from tfreid.data.sampling import training_pids
from tfreid.evaluation import report
from tfreid.evaluation.protocols import evaluate_protocol
from tfreid.evaluation.runner import evaluate_and_report
from tfreid.export import check_export_target, embedding_function, export_saved_model
from tfreid.files import check_writable
from tfreid.methods import resolve
from tfreid.models.imagenet import prepare_start
from tfreid.training import precision
from tfreid.training.checkpoints import check_resume_config, check_within
from tfreid.training.distribute import choose_strategy, is_chief
from tfreid.training.loop import checkpoint_for, checkpoint_value, epoch_length, train
from tfreid.training.workdir import claimed


def prepare_data(cfg: Config) -> None:
    """Writes a synthetic set to `data.root` if `data.synthetic_ids` asks and it is missing.

    The writers write beside `data.root` and rename the set into place when it is complete, so
    an interrupted generation leaves nothing that a rerun would take for the data.
    """
    root = os.path.normpath(cfg.data.root)
    if cfg.data.synthetic_ids is None or os.path.exists(root):
        return
    from tfreid.data import synthetic

    print(f"writing a synthetic {cfg.data.dataset} set of {cfg.data.synthetic_ids} ids to {root}")
    write = synthetic.writer(cfg.data.dataset)
    write(root, num_ids=cfg.data.synthetic_ids, seed=cfg.train.seed)


class Validator:
    """Periodic evaluation of one setting (SYSU-MM01 all-search single-shot, RegDB
    visible -> thermal, LLCM ir_to_vis; one trial); keeps the best checkpoint (R1 + mAP).

    SYSU-MM01 validates on the val ids, which the config then keeps out of training
    (`data.train_ids: train`); the test set is used only with train.select_on_test (RegDB and
    LLCM have no validation ids, so the config demands it there). The best checkpoint holds
    the number of classes (so `restore_parts` and tools/test.py take it) and its score (so a
    resumed run keeps a better earlier best).
    """

    def __init__(self, cfg: Config, workdir: str, num_classes: int):
        self.cfg = cfg
        self.directory = os.path.join(workdir, "checkpoints", "best")
        self.num_classes = tf.Variable(num_classes, dtype=tf.int64, trainable=False)
        self.score = tf.Variable(-1.0, dtype=tf.float64, trainable=False)
        latest = tf.train.latest_checkpoint(self.directory)
        if latest:
            self.score.assign(checkpoint_value(latest, "score"))
        self.manager = None
        self.eval_cfg = dataclasses.replace(
            cfg.eval,
            modes=["all"],
            shots=[1],
            cross_modality=True,
            single_modality=[],
            trials=1,
            rerank=False,
        )
        on_test = cfg.train.select_on_test or cfg.data.dataset != "sysu"
        self.pids = None if on_test else sysu.read_ids(cfg.data.root, "val")

    def __call__(self, epoch: int, parts, writer) -> None:
        if epoch % self.cfg.train.eval_every:
            return
        embed = embedding_function(parts, self.cfg.data)
        results = evaluate_protocol(embed, self.cfg.data, self.eval_cfg, self.pids, progress=False)
        # The first setting: SYSU all-search single-shot, RegDB visible -> thermal, LLCM
        # ir_to_vis (the other direction costs little: the embeddings are shared).
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
    """Trains, exports `workdir/saved_model` and, with an eval section, writes results.json.

    The method's `check` runs first (`tfreid.methods.resolve`: a refused combination leaves
    no work dir and no data behind), then the pretrained weights are made ready (fetched if
    need be: offline, this fails before anything is written or read). The work dir must be
    ours (`tfreid.training.workdir`); the run holds its lock throughout. Everything that can
    be checked is checked before the first step: that every output can be written, that a
    rerun's config still describes its checkpoints, and that the pipeline can read every
    image training and the test protocol will use. Under a multi-worker strategy only the
    chief writes the run's files.
    """
    resolve(cfg)
    precision.resolve(cfg.train.mixed_precision)  # a bad $TFREID_AUTO_PRECISION fails here
    chief = is_chief(choose_strategy(cfg.runtime.strategy))  # before TensorFlow runs any op
    prepare_start(cfg.model)  # fetches `imagenet` weights
    with claimed(workdir, chief):
        return _run(cfg, workdir, chief, progress)


def _run(cfg: Config, workdir: str, chief: bool, progress: bool) -> dict | None:
    saved_model = os.path.join(workdir, "saved_model")
    check_outputs(cfg, workdir, chief)
    check_resume_config(cfg, workdir)
    prepare_data(cfg)
    samples = training_samples(cfg.data)
    check_within(os.path.join(workdir, "checkpoints"), cfg.train.epochs, epoch_length(cfg, samples))
    require_readable(samples, "training", progress, cfg.data.max_image_pixels)
    if cfg.eval is not None:
        require_readable(test_samples(cfg.data), "test", progress, cfg.data.max_image_pixels)
    if chief:
        save_config(cfg, os.path.join(workdir, "config.yaml"))
    validator = None
    if cfg.train.eval_every and cfg.eval and chief:
        validator = Validator(cfg, workdir, len(training_pids(samples)))
    parts = train(cfg, workdir, samples, progress=progress, on_epoch=validator)
    if not chief:
        return None
    if validator is not None:
        validator.restore_best(parts)
    export_saved_model(parts, cfg.data, saved_model, overwrite=True)
    print(f"SavedModel written to {saved_model}")
    if cfg.eval is None:
        return None
    embed_fn = embedding_function(parts, cfg.data)
    return evaluate_and_report(embed_fn, cfg, os.path.join(workdir, "results.json"), progress)


def check_outputs(cfg: Config, workdir: str, chief: bool) -> None:
    """Fails unless every place the run writes can be written: checked before the first step,
    since a read-only checkpoints/ found at the first save costs the steps before it."""
    folders = ["checkpoints"]
    if chief:
        folders += [os.path.join("checkpoints", "best"), "logs"]
    for folder in folders:
        check_writable(os.path.join(workdir, folder), f"{folder}/ of the work dir", directory=True)
    if not chief:
        return
    check_export_target(os.path.join(workdir, "saved_model"), overwrite=True)
    files = ["config.yaml"] + (report.report_paths("results.json") if cfg.eval is not None else [])
    for name in files:
        check_writable(os.path.join(workdir, name), "output")
