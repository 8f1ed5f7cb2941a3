"""Writes a synthetic data set in the real SYSU-MM01, RegDB or LLCM on-disk layout.

Every tool then runs on it as on the real data, e.g.
    python tools/make_synthetic.py data/synthetic_sysu --format sysu --ids 100 --seed 0
    python tools/make_synthetic.py data/synthetic_regdb --format regdb --grid regdb.png
    python tools/make_synthetic.py data/synthetic_llcm --format llcm --ids 100
    python tools/make_synthetic.py data/blocky_sysu --format sysu --style blocky --seed 1
The set is written beside OUT and renamed to OUT when complete, so an interrupted run leaves
no OUT (at most a hidden .OUT.incomplete-* directory); an existing non-empty OUT is refused.
Exit status: 0 on success, 2 for bad arguments (OUT not empty, too few ids), 1 otherwise.
"""

import argparse

from tfreid import cli
from tfreid.data.styles import STYLES


def _styles_help() -> str:
    lines = ["styles (--style; a set of another style differs as another generator would):"]
    return "\n".join(lines + [f"  {name}: {style.description}" for name, style in STYLES.items()])


def main() -> None:
    parser = cli.ArgumentParser(
        description=__doc__,
        epilog=_styles_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", metavar="OUT", help="output directory (new or empty)")
    parser.add_argument("--format", choices=["sysu", "regdb", "llcm"], required=True, help="layout")
    parser.add_argument("--ids", type=int, default=100, help="number of identities (100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--style", choices=sorted(STYLES), default="default", help="generator style (default)"
    )
    parser.add_argument("--height", type=int, default=128, help="image height (128)")
    parser.add_argument("--width", type=int, default=64, help="image width (64)")
    parser.add_argument("--grid", metavar="PNG", help="also write a sample grid image here")
    args = parser.parse_args()

    def run():
        from tfreid.data import synthetic

        writer = synthetic.writer(args.format)
        try:
            root = writer(args.out, args.ids, args.seed, args.height, args.width, style=args.style)
        except (ValueError, FileExistsError) as err:  # a bad number, or OUT holds something
            raise cli.UsageError(str(err)) from None
        except OSError as err:
            raise OSError(f"cannot write {args.out}: {err}") from None
        print(
            f"wrote a synthetic {args.format} data set of {args.ids} identities "
            f"({args.style} style) to {root}"
        )
        if args.grid:
            from tfreid.figures.synthetic_grid import sample_grid
            from tfreid.files import atomic_write

            grid = sample_grid(root, args.format)
            try:
                atomic_write(args.grid, lambda f: grid.save(f, format="PNG"), binary=True)
            except OSError as err:
                raise OSError(f"cannot write {args.grid}: {err}") from None
            print(f"wrote the sample grid {args.grid}")

    cli.run(run)


if __name__ == "__main__":
    main()
