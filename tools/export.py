"""Exports a training checkpoint as a SavedModel (uint8 image + modality -> embedding).

The output must be a new path or an empty directory; an existing SavedModel is replaced only
with --overwrite, and nothing else is ever replaced. Exit status: 0 success, 2 bad arguments
or config, 1 other failures.
"""

from tfreid import cli


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument("--output", required=True, help="SavedModel directory to write")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the SavedModel already at --output"
    )
    args = parser.parse_args()

    def run():
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.export import check_export_target, export_saved_model
        from tfreid.training.loop import restore_parts

        try:  # before the checkpoint is read: a path that must not be replaced costs nothing
            check_export_target(args.output, args.overwrite)
        except FileExistsError as err:
            raise cli.UsageError(str(err)) from None
        parts = restore_parts(cfg, args.checkpoint)
        path = export_saved_model(parts, cfg.data, args.output, overwrite=args.overwrite)
        print(f"SavedModel written to {path}")

    cli.run(run)


if __name__ == "__main__":
    main()
