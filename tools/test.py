"""Evaluates a checkpoint or an exported SavedModel with the configured test protocol.

Prints the papers' table and writes the results JSON (plus X_trials.json, X_cmc.png and
X_ranked.png beside it). Exit status: 0 success, 2 bad arguments or config, 1 other failures.
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
    source.add_argument("--checkpoint", help="training checkpoint prefix or directory")
    source.add_argument("--saved-model", help="SavedModel directory written by the export")
    parser.add_argument("--output", default="results.json", help="results JSON to write")
    parser.add_argument("--rerank", action="store_true", help="k-reciprocal re-ranking")
    cli.set_overrides(parser)
    args = parser.parse_args()

    def run():
        from tfreid.config import ConfigError

        # Checked before TensorFlow starts, so a mistyped path fails at once.
        if args.saved_model and not os.path.isdir(args.saved_model):
            raise FileNotFoundError(f"SavedModel directory {args.saved_model} does not exist")
        for path in report_paths(args.output):
            check_writable(path, "output")
        cfg = cli.load_config(args.config, args.overrides)
        if cfg.eval is None:
            raise ConfigError(f"{args.config}: the config has no eval section to test with")
        if args.rerank:
            cfg.eval = dataclasses.replace(cfg.eval, rerank=True)
        from tfreid.data.check import require_safe
        from tfreid.data.datasets import test_samples
        from tfreid.evaluation.runner import evaluate_and_report

        embed_fn = embedding_source(cfg, args)
        # Files that would hang or exhaust the reader are named before any is read.
        require_safe(test_samples(cfg.data), "test", cfg.data.max_image_pixels)
        evaluate_and_report(embed_fn, cfg, args.output)

    cli.run(run)


def embedding_source(cfg, args):
    """The embedding function of the SavedModel or of the checkpoint's model.

    A checkpoint is evaluated with the config's preprocessing, which must be its run's
    (`restore_parts` compares them); a SavedModel carries its own normalisation and size, and
    the config's data.height and data.width only set the size images are decoded to."""
    if args.saved_model:
        from tfreid.evaluation.features import saved_model_embed_fn

        return saved_model_embed_fn(args.saved_model)
    from tfreid.export import embedding_function
    from tfreid.training.loop import restore_parts

    return embedding_function(restore_parts(cfg, args.checkpoint), cfg.data)


if __name__ == "__main__":
    main()
