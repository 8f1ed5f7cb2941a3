"""The test protocol end to end, as tools/test.py and the end of a training run do it.

Embeddings -> every setting's metrics -> results.json (with the config's paper numbers beside
ours), the per-trial numbers, the papers' table (mean ± std), a CMC plot, a picture of ranked
lists (drawn from the distances the evaluation computed) and, when asked, the embeddings.
"""

from __future__ import annotations

import functools
import os

import numpy as np

from tfreid.config import Config, ConfigError
from tfreid.evaluation import report
from tfreid.evaluation.features import EmbedFn, l2_normalise, saved_model_embed_fn
from tfreid.evaluation.protocols import TrialModels, evaluate_protocol
from tfreid.evaluation.scoring import Embedded
from tfreid.evaluation.trials import TRIAL, trial_models
from tfreid.figures.cmc import plot_cmc
from tfreid.figures.ranked_lists import draw_ranked_list
from tfreid.files import atomic_write


def evaluate_and_report(
    embed_fn: EmbedFn | TrialModels,
    cfg: Config,
    results_path: str,
    progress: bool = True,
    features_path: str | None = None,
) -> dict:
    """Runs every setting of the test protocol; writes results.json, the per-trial numbers,
    the pictures and, when asked, the embeddings.

    Beside `results_path` (X.json): X_trials.json, X_cmc.png and X_ranked.png (the top-10
    lists of a few queries of the first setting, SYSU-MM01 trial 0 of the first configured
    mode and shot, RegDB visible -> thermal or LLCM ir_to_vis, with the pairs its protocol
    removes left out). `features_path` (an .npz, see `write_features`) gets the embedding of
    every image any setting scored. `embed_fn` may be RegDB's models of several trials
    (`protocols.TrialModels`): each scores its own trial.
    """
    _, trials_path, cmc_path, ranked_path = report.report_paths(results_path)

    def draw_example(queries, gallery, distmat):
        draw_ranked_list(queries, gallery, distmat, ranked_path)

    results = evaluate_protocol(
        embed_fn, cfg.data, cfg.eval, progress=progress, example=draw_example
    )
    document = report.results_json(results, cfg.method.name)
    if cfg.paper:  # the paper's numbers for this row, each with ours beside it
        document["paper"] = report.paper_rows(results, cfg.paper)
    report.write_json(document, results_path)
    report.write_json(report.trials_json(results, cfg.method.name), trials_path)
    if features_path is not None:
        write_features(results["embedded"], cfg, features_path)
    print(report.format_table(results, cfg.method.name))
    if cfg.paper:
        print(report.format_paper(results, cfg.paper))
    try:
        plot_cmc(results, cmc_path)
    except ImportError as err:
        print(f"no CMC plot: {err}")
    print(f"results written to {results_path}")
    if features_path is not None:
        print(f"embeddings of {len(results['embedded'].samples)} images written to {features_path}")
    return results


def embedding_source(
    cfg: Config, checkpoint: str | None, saved_model: str | None
) -> EmbedFn | TrialModels:
    """The embedding function of the SavedModel directory `saved_model` when given, else of
    the model restored from the training checkpoint `checkpoint` (a prefix or directory).

    A checkpoint is evaluated with the config's preprocessing, which must be its run's
    (`restore_parts` compares them); a SavedModel carries its own normalisation and size, and
    the config's data.height and data.width only set the size images are decoded to.

    With `trials.TRIAL` in the path, RegDB's model of every trial that has one (each loaded
    when its trial is scored), so that the results hold the spread over the trials.

    Raises:
        ConfigError: a path per trial for another data set than RegDB.
    """
    path = saved_model or checkpoint
    if TRIAL not in path:
        return _embedding_function(cfg, checkpoint, saved_model)
    if cfg.data.dataset != "regdb":
        raise ConfigError(
            f"{TRIAL} in {path}: one model per trial is RegDB's protocol, but data.dataset is "
            f"{cfg.data.dataset}"
        )
    models = trial_models(path)
    print(f"RegDB, one model per trial: trial(s) {', '.join(map(str, models))} ({path})")
    return {
        trial: functools.partial(
            _embedding_function, cfg, None if saved_model else model, model if saved_model else None
        )
        for trial, model in models.items()
    }


def _embedding_function(cfg: Config, checkpoint: str | None, saved_model: str | None) -> EmbedFn:
    if saved_model:
        return saved_model_embed_fn(saved_model)
    from tfreid.export import embedding_function
    from tfreid.training.loop import restore_parts

    return embedding_function(restore_parts(cfg, checkpoint), cfg.data)


def write_features(embedded: Embedded, cfg: Config, path: str) -> None:
    """Writes the embeddings behind the numbers as an .npz, atomically.

    Arrays: `path` (str [N], relative to data.root), `embedding` (float32 [N, D]), `pid`,
    `camera`, `modality` (int [N]; modality 0 visible, 1 infrared), `distance` (the metric's
    name) and, for RegDB models of several trials, `trial` (int [N], the trial whose model
    embedded the row). Under the cosine distance the embeddings are L2-normalised, as the
    distance sees them: the inner product, the cosine and the Euclidean distance of the
    stored vectors then all rank as the evaluation ranked.
    """
    features = embedded.features
    if cfg.eval.distance == "cosine":
        features = l2_normalise(features.astype(np.float64), "image").astype(np.float32)
    arrays = {
        "path": np.array([os.path.relpath(s.path, cfg.data.root) for s in embedded.samples]),
        "embedding": features,
        "pid": np.array([s.pid for s in embedded.samples], dtype=np.int64),
        "camera": np.array([s.camid for s in embedded.samples], dtype=np.int64),
        "modality": np.array([s.modality for s in embedded.samples], dtype=np.int64),
        "distance": np.array(cfg.eval.distance),
    }
    if embedded.trial is not None:
        arrays["trial"] = embedded.trial
    atomic_write(path, lambda f: np.savez(f, **arrays), binary=True)
