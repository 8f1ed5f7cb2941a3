"""A labelled grid of a synthetic (or real) data set's images: one identity per row, its RGB
images left and its IR images right (tools/make_synthetic.py --grid)."""

from __future__ import annotations

import os

from PIL import Image, ImageDraw, ImageFont

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
