"""`tools/export.py`: a checkpoint written as a SavedModel, an ONNX or a LiteRT file, published
only when its embeddings match.

The export is written beside its destination, run on the config's test images and compared
(`tfreid.exporting.parity`): a SavedModel with the checkpoint's model in process, an ONNX or
LiteRT file with the SavedModel of the same checkpoint (exported to a temporary directory and
loaded as a server loads it). Only when the cosine bound holds does the export replace its
destination; the figures go to `<output>.parity.json`. A refused export leaves nothing behind
and nothing of the user's changed.
"""

from __future__ import annotations

import os
import tempfile

from tfreid.config import Config
from tfreid.data.samples import DatasetError
from tfreid.evaluation.features import saved_model_embed_fn
from tfreid.export import check_export_target, embedding_function, export_saved_model
from tfreid.exporting import parity
from tfreid.exporting.formats import check_file_target, write_onnx, write_tflite
from tfreid.exporting.portable import float32_config, portable_function
from tfreid.exporting.runtimes import EMBED_FNS
from tfreid.files import check_writable, staged
from tfreid.training import precision
from tfreid.training.loop import restore_parts

FORMAT_NAMES = {
    "savedmodel": "the SavedModel",
    "onnx": "the ONNX model",
    "tflite": "the LiteRT model",
}


def report_path(output: str) -> str:
    """Where the parity figures of the export at `output` go: `<output>.parity.json`."""
    return os.path.abspath(output).rstrip(os.sep) + ".parity.json"


def check_target(output: str, fmt: str, overwrite: bool) -> None:
    """Fails, before any work, unless `output` and its parity report may be written.

    Raises:
        FileExistsError / ValueError: naming the path and what is wrong with it.
    """
    if fmt == "savedmodel":
        check_export_target(output, overwrite)
    else:
        check_file_target(output, fmt, overwrite)
    report = report_path(output)
    if os.path.lexists(report) and not overwrite:
        raise FileExistsError(f"{report} already exists; pass --overwrite to replace it")
    check_writable(report, "parity report")


def export_checked(cfg: Config, checkpoint: str, fmt: str, output: str, overwrite: bool) -> dict:
    """Writes the checkpoint's serving model to `output` in format `fmt` if it passes its
    parity check; returns the parity report.

    Raises:
        ParityError: the export's embeddings differ beyond the bound (nothing written).
    """
    check_target(output, fmt, overwrite)
    try:
        samples = parity.parity_samples(cfg.data)
    except DatasetError as err:
        raise DatasetError(
            f"the parity check runs the export on the config's test images: {err} (--set "
            "data.root=DIR points at another copy)"
        ) from None
    parts = restore_parts(cfg, checkpoint)
    trained = _precision_name(cfg)
    with staged(output, directory=fmt == "savedmodel") as staging:
        if fmt == "savedmodel":
            export_saved_model(parts, cfg.data, staging)
            report = parity.compare(
                embedding_function(parts, cfg.data),
                saved_model_embed_fn(staging),
                samples,
                cfg.data,
            )
            report["reference"] = "the checkpoint's model in process"
            exported = trained
        else:
            float32_parts = restore_parts(float32_config(cfg), checkpoint)
            function = portable_function(float32_parts, cfg.data)
            if fmt == "onnx":
                write_onnx(function, staging)
            else:
                write_tflite(float32_parts, function, staging)
            report = _against_saved_model(parts, cfg, EMBED_FNS[fmt](staging), samples)
            exported = "float32"
        report.update(
            format=fmt,
            output=os.path.abspath(output),
            checkpoint=checkpoint,
            precision={"reference": trained, "export": exported},
            bound=parity.MIN_COSINE if trained == exported else parity.MIN_COSINE_BFLOAT16,
        )
        parity.check(report, FORMAT_NAMES[fmt])
    parity.write_report(report_path(output), report)
    return report


def _against_saved_model(parts, cfg: Config, candidate, samples) -> dict:
    """Parity with the SavedModel of `parts`, exported to a temporary directory and loaded."""
    with tempfile.TemporaryDirectory() as directory:
        path = os.path.join(directory, "saved_model")
        export_saved_model(parts, cfg.data, path)
        report = parity.compare(saved_model_embed_fn(path), candidate, samples, cfg.data)
    report["reference"] = "the SavedModel of the same checkpoint"
    return report


def _precision_name(cfg: Config) -> str:
    """The dtype the checkpoint's networks compute in under `cfg` ("none" is float32)."""
    resolved = precision.resolve(cfg.train.mixed_precision)
    return "float32" if resolved == "none" else resolved
