"""What a base-derivative generator learned: V, D_V, I, D_I images of a few identities.

One row per identity (the lowest training ids with images of both modalities), columns V |
D_V | I | D_I (only the derivatives the run trains), as the paper's Fig. 8-9. Each image is
read and resized as the model sees it (data.height x data.width) and normalised by data.mean /
data.std; the derivatives are made in that normalised space, so they are drawn through the
inverse of the normalisation: 255 (x std_c + mean_c) per channel, clipped to [0, 255]. A drawn
derivative is thus the picture the input pipeline would turn into exactly the derivative,
except where clipped. tools/show_derivatives.py draws the grid from a checkpoint.
"""

import numpy as np

from tfreid.figures.pixels import to_pixels

HEADER = 16  # pixels above the grid for the column names
LABELS = {"rgb": "V", "rgb_derived": "D_V", "ir": "I", "ir_derived": "D_I"}


def derivative_columns(generator, rows, data_cfg, derived) -> tuple[dict, float]:
    """({modality name: uint8 [rows, H, W, 3]} for V, I and the `derived` names, the share of
    clipped derivative values)."""
    import tensorflow as tf

    from tfreid.data.augment import normalize, resize
    from tfreid.data.pipeline import decode_image

    def load(samples):
        decoded = [decode_image(tf.constant(s.path), tf.constant(s.modality)) for s in samples]
        images = [resize(image, data_cfg.height, data_cfg.width) for image in decoded]
        return normalize(tf.stack(images), data_cfg.mean, data_cfg.std)

    rgb, ir = load([row[1] for row in rows]), load([row[2] for row in rows])
    made = dict(zip(("rgb_derived", "ir_derived"), generator([rgb, ir])))
    images = {"rgb": rgb, "ir": ir, **{name: made[name] for name in derived}}
    columns, clipped = {}, []
    for name, normalised in images.items():
        columns[name], share = to_pixels(normalised, data_cfg.mean, data_cfg.std)
        if name in derived:
            clipped.append(share)
    return columns, float(np.mean(clipped))


def draw_grid(columns: dict, pids):
    """One row per identity, the columns in V, D_V, I, D_I order, named in a header; each row
    starts with its id."""
    from PIL import Image, ImageDraw

    order = [name for name in LABELS if name in columns]
    rows, height, width, _ = columns[order[0]].shape
    margin = 2 * HEADER
    grid = Image.new("RGB", (margin + width * len(order), HEADER + height * rows), "white")
    draw = ImageDraw.Draw(grid)
    for index, name in enumerate(order):
        draw.text((margin + index * width + 2, 2), LABELS[name], fill="black")
        for row in range(rows):
            corner = (margin + index * width, HEADER + row * height)
            grid.paste(Image.fromarray(columns[name][row]), corner)
    for row, pid in enumerate(pids):
        draw.text((2, HEADER + row * height + 2), str(pid), fill="black")
    return grid


def generator_weights(generator) -> str:
    """E_V's and G_S's weights, one line each."""
    layer = generator.get_layer("derivative_generator")
    values = [np.asarray(w).ravel() for w in layer.get_weights()]
    encoder = f"E_V kernel {np.round(values[0], 4)} bias {np.round(values[1], 4)}"
    shared = f"G_S kernel {np.round(values[2], 4)} bias {np.round(values[3], 4)}"
    return f"{encoder}\n{shared}"


def check_config(cfg, path: str) -> tuple[str, ...]:
    """The derivative modalities `cfg`'s run trains; a config error if there are none."""
    from tfreid.config import ConfigError
    from tfreid.methods import base_derivative, resolve

    if cfg.method.name != "base_derivative":
        raise ConfigError(
            f"{path}: method.name is {cfg.method.name!r}; derivative images exist only in a "
            "'base_derivative' run"
        )
    derived = base_derivative.taking_part(resolve(cfg)[1])[2:]
    if not derived:
        raise ConfigError(
            f"{path}: method.params.mdl_pairs names no derivative modality, so the run has no "
            "derivative images"
        )
    return derived
