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
import functools
import os

from tfreid import cli
from tfreid.files import check_writable

TRIAL = "{trial}"
REGDB_TRIALS = range(1, 11)


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

        # Checked before TensorFlow starts, so a mistyped path fails at once.
        source = args.saved_model or args.checkpoint
        models = trial_models(source) if TRIAL in source else None
        if models is None and args.saved_model and not os.path.isdir(args.saved_model):
            raise FileNotFoundError(f"SavedModel directory {args.saved_model} does not exist")
        stem = os.path.splitext(args.output)[0]
        outputs = [args.output, f"{stem}_trials.json", f"{stem}_cmc.png", f"{stem}_ranked.png"]
        for path in outputs:
            check_writable(path, "output")
        if args.features:
            check_writable(args.features, "--features output")
        cfg = cli.load_config(args.config, args.overrides)
        if cfg.eval is None:
            raise ConfigError(f"{args.config}: the config has no eval section to test with")
        if args.rerank:
            cfg.eval = dataclasses.replace(cfg.eval, rerank=True)
        if models is None:
            embed = embedding_source(cfg, args.saved_model is not None, source)
        else:
            if cfg.data.dataset != "regdb":
                raise cli.UsageError(
                    f"{TRIAL} in {source}: one model per trial is RegDB's protocol, but "
                    f"data.dataset is {cfg.data.dataset}"
                )
            print(f"RegDB, one model per trial: trial(s) {', '.join(map(str, models))} ({source})")
            load = functools.partial(embedding_source, cfg, args.saved_model is not None)
            embed = {trial: functools.partial(load, path) for trial, path in models.items()}
        from tfreid.evaluation.runner import evaluate_and_report

        evaluate_and_report(embed, cfg, args.output, features_path=args.features)

    cli.run(run)


def trial_models(pattern: str) -> dict[int, str]:
    """{trial: path} of the RegDB trials whose model exists where `pattern` names it."""
    paths = {t: pattern.replace(TRIAL, str(t)) for t in REGDB_TRIALS}
    found = {t: p for t, p in paths.items() if os.path.exists(p) or os.path.exists(p + ".index")}
    if not found:
        raise FileNotFoundError(f"no model at {pattern} for any RegDB trial 1-10")
    return found


def embedding_source(cfg, saved_model: bool, path: str):
    """The embedding function of the SavedModel or of the checkpoint's model at `path`."""
    if saved_model:
        from tfreid.evaluation.features import saved_model_embed_fn

        return saved_model_embed_fn(path)
    from tfreid.export import embedding_function
    from tfreid.training.loop import restore_parts

    return embedding_function(restore_parts(cfg, path), cfg.data)


if __name__ == "__main__":
    main()
