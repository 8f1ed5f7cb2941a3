"""The modality selection weights of a Modality-Gated Extractor (IJCV 2020, Fig. 14).

Per gated layer (every conv + BN unit of the gated ResNet-50, in forward order): (a) the mean
a1 of its soft RGB-specific nodes (a1 >= a2), (b) the mean a2 of its soft IR-specific nodes
(a1 < a2), (c) the proportion of each kind; the same numbers as a table.
tools/plot_gates.py draws them from a checkpoint.
"""

import numpy as np

from tfreid.config import ConfigError
from tfreid.figures.canvas import agg_figure, save_png
from tfreid.figures.tables import Column, text_table


def gate_statistics(model) -> list[dict]:
    """One row per ModalityGate of `model`'s backbone stages, in forward order.

    Returns:
        dicts with "layer" (1-based), "name", "nodes", "rgb_mean" (mean a1 over nodes with
        a1 >= a2, NaN if none), "ir_mean" (mean a2 over nodes with a1 < a2, NaN if none),
        "rgb_share" and "ir_share" (proportions of the two kinds, summing to 1).
    """
    from tfreid.layers import ModalityGate

    stages = model.stages()
    gates = [layer for stage in stages for layer in stage.layers if isinstance(layer, ModalityGate)]
    rows = []
    for index, gate in enumerate(gates, start=1):
        a1, a2 = (np.asarray(weight, dtype=np.float64) for weight in gate.gate_weights())
        rgb_specific = a1 >= a2
        rows.append(
            {
                "layer": index,
                "name": gate.name,
                "nodes": int(a1.size),
                "rgb_mean": float(a1[rgb_specific].mean()) if rgb_specific.any() else np.nan,
                "ir_mean": float(a2[~rgb_specific].mean()) if (~rgb_specific).any() else np.nan,
                "rgb_share": float(rgb_specific.mean()),
                "ir_share": float((~rgb_specific).mean()),
            }
        )
    return rows


TABLE = (  # (row key, column)
    ("layer", Column("layer", 5)),
    ("name", Column("name", 22, align="<", before="  ")),
    ("nodes", Column("nodes", 5, before=" ")),
    ("rgb_mean", Column("mean a1", 7, ".4f", before="  ")),
    ("ir_mean", Column("mean a2", 7, ".4f", before="  ")),
    ("rgb_share", Column("RGB share", 9, ".4f", before="  ")),
    ("ir_share", Column("IR share", 8, ".4f", before="  ")),
)


def format_table(rows: list[dict]) -> str:
    cells = [[row[key] for key, _ in TABLE] for row in rows]
    return "\n".join(text_table([column for _, column in TABLE], cells, rule=True))


def plot(rows: list[dict], path: str) -> None:
    """Three panels as Fig. 14 (a)-(c), x = layer number."""
    figure = agg_figure((8, 9))
    layers = [row["layer"] for row in rows]
    panels = figure.subplots(3, 1, sharex=True)
    panels[0].plot(layers, [row["rgb_mean"] for row in rows], "o-", color="tab:red")
    panels[0].set_ylabel("mean a1")
    panels[0].set_title("(a) soft modality-1 (RGB) specific nodes, a1 >= a2")
    panels[1].plot(layers, [row["ir_mean"] for row in rows], "o-", color="tab:blue")
    panels[1].set_ylabel("mean a2")
    panels[1].set_title("(b) soft modality-2 (IR) specific nodes, a1 < a2")
    panels[2].plot(layers, [row["rgb_share"] for row in rows], "o-", color="tab:red", label="RGB")
    panels[2].plot(layers, [row["ir_share"] for row in rows], "o-", color="tab:blue", label="IR")
    panels[2].set_ylabel("proportion")
    panels[2].set_title("(c) proportions of the two kinds of nodes")
    panels[2].legend()
    panels[2].set_xlabel("layer")
    for panel in panels:
        panel.grid(alpha=0.3)
    figure.tight_layout()
    save_png(figure, path)


def check_config(cfg, path: str) -> None:
    """A config error unless `cfg` (read from `path`) builds a model with gates."""
    from tfreid.models.networks import is_gated

    if not is_gated(cfg.model.backbone):
        raise ConfigError(
            f"{path}: model.backbone is {cfg.model.backbone!r}; gate weights exist only in a "
            "gated model ('gated_resnet50', 'gated_resnet50_torchvision')"
        )
