"""Shows what a base-derivative generator learned: V, D_V, I, D_I images of a few identities.

From a checkpoint of a `base_derivative` run: one row per identity (the lowest training ids
with images of both modalities), columns V | D_V | I | D_I (only the derivatives the run
trains), as the paper's Fig. 8-9. Each image is read and resized as the model sees it
(data.height x data.width) and normalised by data.mean / data.std; the derivatives are made in
that normalised space, so they are drawn through the inverse of the normalisation: 255 (x std_c
+ mean_c) per channel, clipped to [0, 255]. A drawn derivative is thus the picture the input
pipeline would turn into exactly the derivative, except where clipped; the share of clipped
values is printed with the generator's weights. Exit status: 0 success, 2 bad arguments or
config, 1 other failures.
"""

from tfreid import cli
from tfreid.files import atomic_write, check_writable


def main() -> None:
    parser = cli.ArgumentParser(description=__doc__)
    cli.checkpoint_arguments(parser)
    parser.add_argument("--output", required=True, help="PNG file to write")
    parser.add_argument("--identities", type=cli.positive_int, default=4, help="rows (default 4)")
    args = parser.parse_args()

    def run():
        check_writable(args.output, "output")
        cfg = cli.load_config(args.config, args.overrides)
        from tfreid.data.datasets import training_samples
        from tfreid.figures import derivatives
        from tfreid.figures.identities import pick_identities
        from tfreid.training.loop import restore_parts

        derived = derivatives.check_config(cfg, args.config)
        rows = pick_identities(training_samples(cfg.data), args.identities)
        generator = restore_parts(cfg, args.checkpoint).nets["generator"]
        columns, clipped = derivatives.derivative_columns(generator, rows, cfg.data, derived)
        print(derivatives.generator_weights(generator))
        print(f"derivative values clipped to [0, 255] in the picture: {100 * clipped:.1f}%")
        picture = derivatives.draw_grid(columns, [row[0] for row in rows])
        atomic_write(args.output, lambda f: picture.save(f, format="PNG"), binary=True)
        print(f"grid written to {args.output}")

    cli.run(run)


if __name__ == "__main__":
    main()
