"""The test protocol end to end, as tools/test.py and the end of a training run do it.

Embeddings -> protocol metrics -> results.json, the per-trial numbers, the papers' table, a CMC
plot and a picture of ranked lists (drawn from the distances the evaluation computed).
"""

from __future__ import annotations

import numpy as np

from tfreid.config import Config
from tfreid.evaluation import report
from tfreid.evaluation.features import EmbedFn
from tfreid.evaluation.metrics import sysu_same_room
from tfreid.evaluation.protocols import evaluate_protocol
from tfreid.visualize import draw_ranked_list, plot_cmc


def evaluate_and_report(
    embed_fn: EmbedFn, cfg: Config, results_path: str, progress: bool = True
) -> dict:
    """Runs the test protocol; writes results.json, the per-trial numbers and the pictures.

    Beside `results_path` (X.json): X_trials.json, X_cmc.png and X_ranked.png (the top-10
    lists of a few queries of the first setting: SYSU-MM01 trial 0 of the first configured
    mode and shot, with its camera-2 rule applied, or RegDB visible -> thermal).
    """
    _, trials_path, cmc_path, ranked_path = report.report_paths(results_path)

    def draw_example(queries, gallery, distmat):
        if cfg.data.dataset == "sysu":
            distmat = distmat.copy()
            from_camera3, in_camera2 = sysu_same_room(
                [s.camid for s in queries], [s.camid for s in gallery]
            )
            distmat[np.ix_(from_camera3, in_camera2)] = np.inf
        draw_ranked_list(queries, gallery, distmat, ranked_path)

    results = evaluate_protocol(
        embed_fn, cfg.data, cfg.eval, progress=progress, example=draw_example
    )
    report.write_json(report.results_json(results, cfg.method.name), results_path)
    report.write_json(report.trials_json(results, cfg.method.name), trials_path)
    print(report.format_table(results, cfg.method.name))
    try:
        plot_cmc(results, cmc_path)
    except ImportError as err:
        print(f"no CMC plot: {err}")
    print(f"results written to {results_path}")
    return results
