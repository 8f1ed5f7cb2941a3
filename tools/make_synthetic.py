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

from __future__ import annotations

import argparse
import os
import sys

from PIL import Image, ImageDraw, ImageFont

from tfreid.data.styles import STYLES

SYSU_COLUMNS = [(1, 0), (2, 0), (4, 0), (5, 0), (3, 0), (3, 1), (6, 0), (6, 1)]  # (camera, image)
REGDB_COLUMNS = [("Visible", i) for i in range(4)] + [("Thermal", i) for i in range(4)]
LLCM_COLUMNS = [("vis", i) for i in range(4)] + [("nir", i) for i in range(4)]  # training ids
COLUMNS = {"sysu": SYSU_COLUMNS, "regdb": REGDB_COLUMNS, "llcm": LLCM_COLUMNS}
FIRST_FOLDER = {"sysu": "cam1", "regdb": "Visible", "llcm": "vis"}
HEADER, MARGIN = 18, 40


def _cell(root: str, fmt: str, pid: int, column) -> str | None:
    """Path of one grid cell's image, or None when the id has no such image."""
    where, index = column
    if fmt == "sysu":
        folder = os.path.join(root, f"cam{where}", f"{pid:04d}")
    elif fmt == "llcm":
        folder = os.path.join(root, where, f"{pid:04d}")
    else:
        folder = os.path.join(root, where, str(pid))
    names = sorted(os.listdir(folder)) if os.path.isdir(folder) else []
    return os.path.join(folder, names[index]) if index < len(names) else None


def _pids(root: str, fmt: str, rows: int) -> list[int]:
    """The `rows` lowest ids, preferring ids seen by every camera of the grid."""
    folder = os.path.join(root, FIRST_FOLDER[fmt])
    pids = sorted(int(name) for name in os.listdir(folder) if name.isdigit())
    columns = COLUMNS[fmt]
    complete = [p for p in pids if all(_cell(root, fmt, p, c) for c in columns)]
    return (complete + [p for p in pids if p not in complete])[:rows]


def sample_grid(root: str, fmt: str, rows: int = 6) -> Image.Image:
    """A labelled grid: one identity per row, its RGB images left and its IR images right."""
    columns = COLUMNS[fmt]
    pids = _pids(root, fmt, rows)
    if not pids:
        raise ValueError(f"{root} holds no {fmt} identities to show")
    with Image.open(_cell(root, fmt, pids[0], columns[0])) as first:
        width, height = first.size
    grid = Image.new("RGB", (MARGIN + width * len(columns), HEADER + height * len(pids)), "white")
    draw, font = ImageDraw.Draw(grid), ImageFont.load_default(size=11)
    for j, (where, _) in enumerate(columns):
        label = (("IR" if where in (3, 6) else "RGB") + f" cam{where}") if fmt == "sysu" else where
        draw.text((MARGIN + j * width + 3, 3), label, fill="black", font=font)
    for i, pid in enumerate(pids):
        draw.text((3, HEADER + i * height + height // 2 - 6), f"id {pid}", fill="black", font=font)
        for j, column in enumerate(columns):
            path = _cell(root, fmt, pid, column)
            if path is not None:
                with Image.open(path) as image:
                    grid.paste(image.convert("RGB"), (MARGIN + j * width, HEADER + i * height))
    return grid


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not usage + error
        self.exit(2, f"{self.prog}: error: {message}\n")


def _styles_help() -> str:
    lines = ["styles (--style; a set of another style differs as another generator would):"]
    return "\n".join(lines + [f"  {name}: {style.description}" for name, style in STYLES.items()])


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        description=__doc__,
        epilog=_styles_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("out", metavar="OUT", help="output directory (new or empty)")
    parser.add_argument("--format", choices=sorted(COLUMNS), required=True, help="layout")
    parser.add_argument("--ids", type=int, default=100, help="number of identities (100)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (0)")
    parser.add_argument(
        "--style", choices=sorted(STYLES), default="default", help="generator style (default)"
    )
    parser.add_argument("--height", type=int, default=128, help="image height (128)")
    parser.add_argument("--width", type=int, default=64, help="image width (64)")
    parser.add_argument("--grid", metavar="PNG", help="also write a sample grid image here")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # Imported after parsing so that --help and argument errors stay instant.
    from tfreid.data import synthetic

    writer = synthetic.writer(args.format)
    try:
        root = writer(args.out, args.ids, args.seed, args.height, args.width, style=args.style)
    except (ValueError, FileExistsError) as err:
        print(f"make_synthetic.py: error: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"make_synthetic.py: error: cannot write {args.out}: {err}", file=sys.stderr)
        return 1
    print(
        f"wrote a synthetic {args.format} data set of {args.ids} identities "
        f"({args.style} style) to {root}"
    )
    if args.grid:
        try:
            sample_grid(root, args.format).save(args.grid)
        except OSError as err:
            print(f"make_synthetic.py: error: cannot write {args.grid}: {err}", file=sys.stderr)
            return 1
        print(f"wrote the sample grid {args.grid}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
