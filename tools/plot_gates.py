"""Plots the modality selection weights of a Modality-Gated Extractor (IJCV 2020, Fig. 14).

Per gated layer (every conv + BN unit of the gated ResNet-50, in forward order): (a) the mean
a1 of its soft RGB-specific nodes (a1 >= a2), (b) the mean a2 of its soft IR-specific nodes
(a1 < a2), (c) the proportion of each kind. Prints the same numbers as a table. Exit status: 0
success, 2 bad arguments or config, 1 other failures.
"""

from tfreid import cli
from tfreid.files import check_writable


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument("--output", required=True, help="PNG file to write")
    args = parser.parse_args()

    def run():
        check_writable(args.output, "output")
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.figures import gates
        from tfreid.training.loop import restore_parts

        gates.check_config(cfg, args.config)
        rows = gates.gate_statistics(restore_parts(cfg, args.checkpoint).serving)
        print(gates.format_table(rows))
        gates.plot(rows, args.output)
        print(f"plot written to {args.output}")

    cli.run(run)


if __name__ == "__main__":
    main()
