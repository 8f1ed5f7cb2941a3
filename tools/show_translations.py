"""Draws TS-GAN's translations from a checkpoint as a PNG grid.

One row per training identity (the first RGB and the first IR image of the first --count
identities): real RGB, fake IR G_I(RGB), reconstructed RGB G_R(G_I(RGB)), real IR, fake RGB
G_R(IR). Exit status: 0 success, 2 bad arguments or config, 1 other failures.
"""

from tfreid import cli
from tfreid.files import atomic_write, check_writable


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument("--output", required=True, help="PNG file to write")
    parser.add_argument(
        "--count", type=cli.positive_int, default=8, help="identities (rows), default 8"
    )
    args = parser.parse_args()

    def run():
        from tfreid.config import ConfigError

        check_writable(args.output, "output")
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.methods import resolve

        if cfg.method.name != "tsgan" or not resolve(cfg)[1].gan:
            raise ConfigError(
                f"{args.config}: translations need a TS-GAN run with its generators "
                f"(method.name tsgan, method.params.gan true); got {cfg.method.name!r}"
            )
        from PIL import Image

        from tfreid.data.datasets import training_samples
        from tfreid.figures.translations import COLUMNS, fixed_pairs, grid, translate
        from tfreid.training.loop import restore_parts

        parts = restore_parts(cfg, args.checkpoint)
        rgb, ir = fixed_pairs(training_samples(cfg.data), cfg.data, args.count)
        picture = Image.fromarray(grid(translate(parts, rgb, ir, cfg.data)))
        atomic_write(args.output, lambda f: picture.save(f, format="PNG"), binary=True)
        print(f"{len(rgb)} rows ({', '.join(COLUMNS)}) written to {args.output}")

    cli.run(run)


if __name__ == "__main__":
    main()
