"""How a method's loss terms share its network's gradient, under a mean and a sum reduction.

The papers print some terms as sums (TS-GAN Eq. 13-15: squared L2 norms of feature maps;
IJCV 2020 Eq. 3 and 6: sums over pairs; base-derivative Eq. 4 and 7: sums over anchors) where
tfreid averages by default. Which reading a paper's weights were tuned for shows in how much of
the gradient each term carries. For one method this script, on a synthetic SYSU-MM01-layout set
written to a temporary directory:

1. builds the shipped config's networks (the overrides below shrink what the two CPU cores
   cannot afford: each run prints them),
2. measures, at initialisation, the L2 norm of the gradient of every weighted term of the
   network's objective with respect to the network's variables (all of them, and the part the
   terms compete for: TS-GAN's FE_S, the backbone stages of the others), on fixed batches, under
   both readings (`mean` and `sum`),
3. trains `--steps` steps with the method's own step under each reading in turn (from the same
   start), and measures again after each.

TS-GAN first trains its IR teacher (the shipped teacher config, `--teacher-steps` steps on the
IR images, then its batch-norm statistics averaged over `--precise-bn` IR batches) from a start
the student shares (both stand in for the paper's common ImageNet start), then the student.
Learning rates are the configs' base rates, constant (a short run never leaves the configs'
warm-ups otherwise). Float32. Results (numbers and commands): docs/loss_scales.md.

python benchmarks/loss_scales.py tsgan --workdir /tmp/loss_scales_tsgan
python benchmarks/loss_scales.py fmsp --steps 30
python benchmarks/loss_scales.py base_derivative --steps 30
python benchmarks/loss_scales.py base_derivative --config yaml_configs/regdb/base_derivative.yaml
python benchmarks/loss_scales.py tsgan --set model.backbone=resnet6 data.height=64 data.width=32
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import tempfile
import time
from collections.abc import Callable
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

# tfreid first: it turns on the oneDNN kernels before TensorFlow starts.
import tfreid  # noqa: E402, F401, I001
import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfreid.config import Config, load_config  # noqa: E402
from tfreid.data import synthetic  # noqa: E402
from tfreid.data.datasets import training_samples  # noqa: E402
from tfreid.data.pipeline import train_dataset  # noqa: E402
from tfreid.data.sampling import training_pids  # noqa: E402
from tfreid.methods import base, base_derivative, fmsp, tsgan  # noqa: E402
from tfreid.training.loop import checkpoint_for  # noqa: E402
from tfreid.training.step import Training, build_training  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
READINGS = ("mean", "sum")


class Method(NamedTuple):
    config: str  # the shipped config, relative to yaml_configs/
    overrides: tuple[str, ...]  # what the CPUs cannot afford at the paper's size
    reduction_key: str  # the Params field that selects the reading
    reference: str  # the term the others are compared with
    terms: Callable  # (parts, inputs, params) -> {term: weighted scalar}
    subset: Callable  # parts -> (name, the variables the terms compete for)
    networks: tuple[str, ...] = ("model",)  # what the objective trains
    inputs: Callable = lambda parts, batch: batch  # computed before the measuring tape


def _fe_s(parts):
    student = parts.nets["model"]
    stages = [s for stem in student.stems for s in stem]
    stages += student.shared[: student.feature_map_stage + 1]
    return "FE_S", [v for stage in stages for v in stage.trainable_variables]


def _backbone(parts):
    return "backbone", parts.nets["model"].backbone_variables()


METHODS = {
    # The map size decides the sum/mean factor (16 x 8 x 1024 at 256 x 128): kept. The
    # batch (8 x 4 pairs in the paper) and the generators (9 blocks of 256 channels at 64 x 32)
    # are not affordable here; neither changes the per-image reductions.
    "tsgan": Method(
        "sysu/tsgan.yaml",
        (
            "data.identities_per_batch=4",
            "data.images_per_identity=2",
            "method.params.generator_blocks=3",
            "method.params.generator_filters=16",
            "method.params.discriminator_filters=16",
        ),
        "ts_reduction",
        "reid",
        lambda parts, inputs, params: tsgan.student_objective(parts, *inputs, params)[0],
        _fe_s,
        inputs=tsgan.student_inputs,
    ),
    # The batch decides the sum/mean factor (P x K² pairs): the config's 8 x (4 + 4) kept;
    # the input shrunk from 384 x 128 (the PCB stripes still get 2 rows each).
    "fmsp": Method(
        "sysu/ijcv_mge_fmsp.yaml",
        ("data.height=192", "data.width=64"),
        "reduction",
        "cls",
        lambda parts, batch, params: fmsp.loss_terms(parts, batch, params)[0],
        _backbone,
    ),
    # The batch decides the factor (P x K anchors a modality): the config's 6 x (4 + 4) kept;
    # the input shrunk from 288 x 144.
    "base_derivative": Method(
        "sysu/base_derivative.yaml",
        ("data.height=144", "data.width=72"),
        "reduction",
        "id",
        lambda parts, batch, params: base_derivative.loss_terms(parts, batch, params)[0],
        _backbone,
        ("model", "generator"),
    ),
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("method", choices=sorted(METHODS))
    parser.add_argument("--config", help="another config of the method (default: shipped)")
    parser.add_argument("--steps", type=int, default=40, help="training steps per reading")
    parser.add_argument("--teacher-steps", type=int, default=100, help="TS-GAN's IR teacher")
    parser.add_argument(
        "--precise-bn", type=int, default=50, help="IR batches for the teacher's BN statistics"
    )
    parser.add_argument("--measure-batches", type=int, default=2, help="fixed batches")
    parser.add_argument("--ids", type=int, default=40, help="synthetic identities")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--workdir",
        help="keep the synthetic set and TS-GAN's teacher here and reuse them on a rerun "
        "(default: a temporary directory)",
    )
    parser.add_argument(
        "--set", nargs="*", default=[], dest="overrides", help="more key.path=value overrides"
    )
    return parser.parse_args()


def load(path: str, root: str, overrides, seed: int) -> Config:
    """The config at `path` on the synthetic set, float32, a constant learning rate."""
    return load_config(
        path,
        [
            f"data.root={root}",
            "optimizer.schedule=constant",
            "optimizer.warmup_epochs=0",
            "optimizer.warmup_per_epoch=false",
            "train.mixed_precision=none",
            f"train.seed={seed}",
            *overrides,
        ],
    )


def build(cfg: Config, steps: int) -> tuple[Training, list]:
    """`cfg` built for training `steps` steps (one epoch) as tools/train.py builds it, and its
    training samples."""
    samples = training_samples(cfg.data)
    strategy = tf.distribute.get_strategy()
    return build_training(cfg, len(training_pids(samples)), strategy, max(steps, 1), 1), samples


def batches(samples, cfg: Config, seed: int):
    return iter(train_dataset(samples, cfg.data, seed=seed))


def train(training: Training, samples, cfg: Config, steps: int, what: str) -> None:
    stream = batches(samples, cfg, cfg.train.seed)
    start = time.perf_counter()
    for index in range(steps):
        losses = training.step(next(stream))
        if (index + 1) % max(steps // 4, 1) == 0 or index + 1 == steps:
            elapsed = time.perf_counter() - start
            shown = "  ".join(f"{k[5:]} {float(v):.4g}" for k, v in sorted(losses.items()))
            print(f"  {what} step {index + 1}/{steps} ({elapsed:.0f} s): {shown}", flush=True)


def measure(spec: Method, parts, params, fixed) -> dict:
    """{reading: {"values": {term: value}, "all" / subset: {term: norm}}}, means over batches."""
    subset_name, subset = spec.subset(parts)
    everything = [v for name in spec.networks for v in parts.nets[name].trainable_variables]
    results = {}
    for reading in READINGS:
        read = dataclasses.replace(params, **{spec.reduction_key: reading})
        rows = []
        for batch in fixed:
            inputs = spec.inputs(parts, batch)
            values, (over_all, over_subset) = base.gradient_norms(
                lambda x=inputs, p=read: spec.terms(parts, x, p), everything, subset
            )
            rows.append({"values": values, "all": over_all, subset_name: over_subset})
        results[reading] = {
            key: {term: float(np.mean([row[key][term] for row in rows])) for term in rows[0][key]}
            for key in rows[0]
        }
    return results


def report(title: str, spec: Method, results: dict) -> None:
    print(f"\n{title}")
    for reading, found in results.items():
        print(f"  reading '{reading}':")
        values = "  ".join(f"{t} {v:.4g}" for t, v in found["values"].items())
        print(f"    weighted terms: {values}")
        for where in (k for k in found if k != "values"):
            norms = found[where]
            reference = norms[spec.reference]
            cells = []
            for term, norm in norms.items():
                cell = f"{term} {norm:.3g}"
                if term != spec.reference:
                    share = norm / (norm + reference) if norm + reference > 0 else float("nan")
                    cell += f" (x{norm / reference:.3g} of {spec.reference}, share {share:.3g})"
                cells.append(cell)
            print(f"    |grad| over {where}: " + "; ".join(cells))


def precise_batch_norm(model, stream, count: int) -> None:
    """Sets every batch norm's moving statistics to the mean of its batch statistics over
    `count` IR batches (eagerly, weights unchanged): the teacher runs on them, and a teacher
    trained a few hundred steps has moving averages (momentum 0.99) far from converged, where
    the paper's 120-epoch teacher's are."""
    norms = [
        layer
        for stage in model.stages()
        for layer in stage.layers
        if isinstance(layer, keras.layers.BatchNormalization)
    ]
    momenta = [layer.momentum for layer in norms]
    for index in range(1, count + 1):
        for layer in norms:
            layer.momentum = 1.0 - 1.0 / index  # a running mean of the batch statistics
        model({"ir": next(stream)["ir"]["image"]}, training=True)
    for layer, momentum in zip(norms, momenta, strict=True):
        layer.momentum = momentum
    print(f"  teacher batch-norm statistics: the mean over {count} IR batches", flush=True)


def teacher_checkpoint(path: str, root: str, args, directory: str):
    """Trains the IR teacher briefly, or reuses the one trained in `directory`; returns (its
    checkpoint prefix, its stages' start weights).

    The teacher takes the student's model and image size overrides, and a batch of 8 ids x 2
    IR images (the config's 16 x 4 is not affordable here)."""
    prefix, saved = os.path.join(directory, "teacher"), os.path.join(directory, "start.npz")
    if os.path.isfile(prefix + ".index") and os.path.isfile(saved):
        print(f"IR teacher: reusing {prefix}")
        with np.load(saved) as arrays:
            start = {}
            for key in sorted(arrays.files):  # "stage/weight", both zero-padded
                start.setdefault(key.split("/")[0], []).append(arrays[key])
        return prefix, list(start.values())
    sizes = [o for o in args.overrides if o.startswith(("model.", "data.height", "data.width"))]
    overrides = ["data.identities_per_batch=8", "data.images_per_identity=2", *sizes]
    cfg = load(path, root, overrides, args.seed)
    keras.utils.set_random_seed(args.seed)
    training, samples = build(cfg, args.teacher_steps)
    parts = training.parts
    start = [stage.get_weights() for stage in parts.nets["model"].stages()]
    print(f"IR teacher: {path} with {' '.join(overrides)}", flush=True)
    train(training, samples, cfg, args.teacher_steps, "teacher")
    precise_batch_norm(parts.nets["model"], batches(samples, cfg, args.seed + 2), args.precise_bn)
    arrays = {f"{i:03d}/{j:04d}": w for i, ws in enumerate(start) for j, w in enumerate(ws)}
    np.savez(saved, **arrays)
    return checkpoint_for(parts).write(prefix), start


def main() -> None:
    args = parse_args()
    if args.workdir:
        os.makedirs(args.workdir, exist_ok=True)
        run(args, args.workdir)
    else:
        with tempfile.TemporaryDirectory() as directory:
            run(args, directory)


def run(args, directory: str) -> None:
    spec = METHODS[args.method]
    path = args.config or os.path.join(REPO, "yaml_configs", spec.config)
    overrides = [*spec.overrides, *args.overrides]
    root = os.path.join(directory, "sysu")
    cfg = load(path, root, overrides, args.seed)
    if not os.path.isdir(root):
        print(f"writing {args.ids} synthetic ids at {cfg.data.height}x{cfg.data.width}")
        synthetic.write_sysu(root, args.ids, args.seed, cfg.data.height, cfg.data.width)
    start = None
    if args.method == "tsgan":
        teacher = path.replace("tsgan.yaml", "tsgan_teacher.yaml")
        prefix, start = teacher_checkpoint(teacher, root, args, directory)
        overrides.append(f"method.params.teacher_checkpoint={prefix}")
    print(f"config {path} with {' '.join(overrides)}", flush=True)
    for trained in READINGS:
        keras.utils.set_random_seed(args.seed)
        reading = f"method.params.{spec.reduction_key}={trained}"
        run_cfg = load(path, root, [*overrides, reading], args.seed)
        training, samples = build(run_cfg, args.steps)
        parts, params = training.parts, training.params
        if start is not None:  # the student starts where the teacher started
            for stage, weights in zip(parts.nets["model"].stages(), start, strict=True):
                stage.set_weights(weights)
        stream = batches(samples, run_cfg, args.seed + 1)
        fixed = [next(stream) for _ in range(args.measure_batches)]
        if trained == READINGS[0]:
            report("at initialisation", spec, measure(spec, parts, params, fixed))
        train(training, samples, run_cfg, args.steps, f"'{trained}'")
        title = f"after {args.steps} steps trained with '{trained}'"
        report(title, spec, measure(spec, parts, params, fixed))


if __name__ == "__main__":
    main()
