"""Evaluates a checkpoint or an exported SavedModel on every setting of the data set's protocol.

SYSU-MM01: all / indoor search x single / multi-shot (and the configured single-modality
settings); RegDB: visible -> thermal and thermal -> visible; LLCM: ir_to_vis and vis_to_ir.
Prints the papers' table (each setting's mean ± std over its trials) and writes the results
JSON (plus X_trials.json, X_cmc.png and X_ranked.png beside it); --features also writes the
embedding of every image scored. RegDB trains a model per trial: a `{trial}` in
--checkpoint or --saved-model (e.g. work_dirs/regdb_t{trial}/saved_model) scores each trial
1-10 that has a model with its own model, and reports the mean ± std over them. Exit status:
0 success, 2 bad arguments or config, 1 other failures.
"""

import dataclasses
import os

from tfreid import cli
from tfreid.evaluation.report import report_paths
from tfreid.files import check_writable


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="the run's YAML config")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument(
        "--checkpoint", help="training checkpoint prefix or directory ({trial}: RegDB, per trial)"
    )
    source.add_argument(
        "--saved-model", help="SavedModel directory written by the export ({trial}: as above)"
    )
    parser.add_argument("--output", default="results.json", help="results JSON to write")
    parser.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking")
    parser.add_argument(
        "--features",
        metavar="OUT.npz",
        help="also write every scored image's embedding, path (relative to data.root), pid, "
        "camera and modality",
    )
    cli.set_overrides(parser)
    args = parser.parse_args()

    def run():
        from tfreid.config import ConfigError
        from tfreid.evaluation.trials import TRIAL, trial_models

        # Checked before TensorFlow starts, so a mistyped path fails at once.
        source = args.saved_model or args.checkpoint
        if TRIAL in source:
            trial_models(source)
        elif args.saved_model and not os.path.isdir(args.saved_model):
            raise FileNotFoundError(f"SavedModel directory {args.saved_model} does not exist")
        for path in report_paths(args.output):
            check_writable(path, "output")
        if args.features:
            check_writable(args.features, "--features output")
        cfg = cli.load_config(args.config, args.overrides)
        if cfg.eval is None:
            raise ConfigError(f"{args.config}: the config has no eval section to test with")
        if args.rerank:
            cfg.eval = dataclasses.replace(cfg.eval, rerank=True)
        from tfreid.data.check import require_safe
        from tfreid.data.datasets import test_samples
        from tfreid.evaluation.runner import embedding_source, evaluate_and_report

        embed = embedding_source(cfg, args.checkpoint, args.saved_model)
        # Files that would hang or exhaust the reader are named before any is read.
        require_safe(test_samples(cfg.data), "test", cfg.data.max_image_pixels)
        evaluate_and_report(embed, cfg, args.output, features_path=args.features)

    cli.run(run)


if __name__ == "__main__":
    main()
