"""Exports a training checkpoint as a SavedModel (uint8 image + modality -> embedding).

Exit status: 0 success, 2 bad arguments or config, 1 other failures.
"""

import argparse
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from tfreid import cli  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument("--output", required=True, help="SavedModel directory to write")
    args = parser.parse_args()

    def run():
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.export import export_saved_model
        from tfreid.training.loop import restore_parts

        parts = restore_parts(cfg, args.checkpoint)
        print(f"SavedModel written to {export_saved_model(parts, cfg.data, args.output)}")

    cli.run(run)


if __name__ == "__main__":
    main()
