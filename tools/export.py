"""Exports a training checkpoint as a SavedModel, an ONNX or a LiteRT (TFLite) model, checked.

Every format takes uint8 images of any size and a modality per image (0 RGB, 1 IR) and returns
the embedding. After writing, the export is run on test images of the config's data set and
compared with the SavedModel (a SavedModel with the checkpoint's model in process): the
largest absolute difference and the smallest cosine similarity of the embeddings are printed
and written to OUTPUT.parity.json. Below the cosine bound (0.9999; 0.995 for a bfloat16 model
against its float32 export) the export is refused and nothing is written (docs/export.md).

The output must be a new path (or an empty directory, for a SavedModel); an existing export of
the format is replaced only with --overwrite, and nothing else is ever replaced. Exit status:
0 success, 2 bad arguments or config, 1 other failures (a refused export among them).
"""

from tfreid import cli


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument(
        "--format",
        choices=("savedmodel", "onnx", "tflite"),
        default="savedmodel",
        help="savedmodel (a directory, default), onnx (a .onnx file, opset 17) or tflite (a "
        ".tflite LiteRT file, built-in operators only)",
    )
    parser.add_argument("--output", required=True, help="the directory or file to write")
    parser.add_argument(
        "--overwrite", action="store_true", help="replace the export already at --output"
    )
    args = parser.parse_args()

    def run():
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.exporting.checked import check_target, export_checked, report_path

        try:  # before the checkpoint is read: a path that must not be replaced costs nothing
            check_target(args.output, args.format, args.overwrite)
        except (FileExistsError, ValueError) as err:
            raise cli.UsageError(str(err)) from None
        report = export_checked(cfg, args.checkpoint, args.format, args.output, args.overwrite)
        print(
            f"{report['embeddings_compared']} embeddings of {len(report['images'])} test images "
            f"against {report['reference']}: max abs difference "
            f"{report['max_abs_difference']:.3g}, min cosine {report['min_cosine']:.6f} "
            f"(bound {report['bound']})"
        )
        print(f"{args.format} written to {report['output']}; figures in {report_path(args.output)}")

    cli.run(run)


if __name__ == "__main__":
    main()
