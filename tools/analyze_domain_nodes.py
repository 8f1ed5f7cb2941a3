"""Proportion of domain-specific nodes per layer (Wu et al., ICCV 2017, Fig. 8).

Runs the training set's RGB and IR images through a checkpoint's network and classifies every
channel of every ReLU layer as RGB-specific, IR-specific, shared or inactive under the strict
(T = 0.01 std) and loose (T = 0.05 std) thresholds. Prints the table and writes
OUTPUT/domain_nodes.csv and OUTPUT/domain_nodes.png. Exit status: 0 success, 2 bad arguments
or config, 1 other failures.
"""

import os

from tfreid import cli
from tfreid.files import check_writable


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument("--output", default=".", help="directory for the CSV and PNG")
    parser.add_argument(
        "--max-images", type=cli.positive_int, help="images per modality (default: all)"
    )
    parser.add_argument("--batch-size", type=cli.positive_int, default=32)
    args = parser.parse_args()

    def run():
        check_writable(args.output, "output directory", directory=True)
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.figures import channel_statistics, domain_nodes
        from tfreid.models.reid_model import ReIDModel
        from tfreid.training.loop import restore_parts

        model = restore_parts(cfg, args.checkpoint).serving
        if not isinstance(model, ReIDModel):
            raise ValueError(
                f"method {cfg.method.name!r} serves a {type(model).__name__}, the analysis "
                "needs a ReIDModel"
            )
        statistics = channel_statistics.training_set_statistics(
            model, cfg, args.max_images, args.batch_size
        )
        rows = domain_nodes.proportions_table(statistics)
        print(domain_nodes.format_table(rows))
        os.makedirs(args.output, exist_ok=True)
        csv_path = os.path.join(args.output, "domain_nodes.csv")
        png_path = os.path.join(args.output, "domain_nodes.png")
        domain_nodes.write_csv(rows, csv_path)
        domain_nodes.plot_proportions(rows, png_path)
        print(f"wrote {csv_path} and {png_path}")

    cli.run(run)


if __name__ == "__main__":
    main()
