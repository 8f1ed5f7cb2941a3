"""Evaluates a checkpoint or an exported SavedModel with the configured test protocol.

Prints the papers' table and writes the results JSON (plus X_trials.json, X_cmc.png and
X_ranked.png beside it). Exit status: 0 success, 2 bad arguments or config, 1 other failures.
"""

import dataclasses
import os

from tfreid import cli
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
        stem = os.path.splitext(args.output)[0]
        for path in (args.output, f"{stem}_trials.json", f"{stem}_cmc.png", f"{stem}_ranked.png"):
            check_writable(path, "output")
        cfg = cli.load_config(args.config, args.overrides)
        if cfg.eval is None:
            raise ConfigError(f"{args.config}: the config has no eval section to test with")
        if args.rerank:
            cfg.eval = dataclasses.replace(cfg.eval, rerank=True)
        from tfreid.evaluation.runner import embedding_source, evaluate_and_report

        embed_fn = embedding_source(cfg, args.checkpoint, args.saved_model)
        evaluate_and_report(embed_fn, cfg, args.output)

    cli.run(run)


if __name__ == "__main__":
    main()
