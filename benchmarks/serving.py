"""Images/s of an exported SavedModel against the in-process embedding function it was made of.

Both run the same `tfreid.export.embedding_function` (uint8 images of any size -> resize,
normalise, embed): in-process as a `tf.function` over the live model, and through
`tf.saved_model.load(...).signatures["serving_default"]` after the export. Rounds alternate
between the two on the same batches; the last line is the median ratio
`saved model / in-process = X.XX` (goal: within 5%, i.e. >= 0.95).

    python benchmarks/serving.py [--config yaml_configs/sysu/ijcv_one_stream.yaml] [--rounds 7]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tfreid  # noqa: E402, F401, I001  (oneDNN kernels on before TensorFlow starts)
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from tfreid.config import load_config  # noqa: E402
from tfreid.export import embedding_function, export_saved_model  # noqa: E402
from tfreid.methods import resolve  # noqa: E402
from tfreid.training import precision  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", help="a run's YAML config (default: the defaults, ResNet-50)")
    parser.add_argument("--set", dest="overrides", nargs="*", default=[], metavar="KEY=VALUE")
    parser.add_argument("--batch", type=int, default=64, help="images per call")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=3, help="timed calls per round")
    args = parser.parse_args()

    # Serving speed does not depend on the weights: no ImageNet file to fetch or convert.
    cfg = load_config(args.config, ["model.pretrained_weights=null", *args.overrides])
    method, params = resolve(cfg)
    with precision.dtype_policy(cfg.train.mixed_precision):
        parts = method.build(cfg, params, 395, None)
    rng = np.random.default_rng(0)
    images = tf.constant(rng.integers(0, 256, (args.batch, 320, 160, 3)), tf.uint8)
    modality = tf.constant(rng.integers(0, 2, args.batch), tf.int32)
    in_process = embedding_function(parts, cfg.data)
    with tempfile.TemporaryDirectory() as directory:
        export_saved_model(parts, cfg.data, os.path.join(directory, "saved_model"))
        loaded = tf.saved_model.load(os.path.join(directory, "saved_model"))
        served = loaded.signatures["serving_default"]
        candidates = {
            "in-process": lambda: in_process(images, modality),
            "saved model": lambda: served(image=images, modality=modality)["embedding"],
        }
        difference = np.abs(candidates["in-process"]() - candidates["saved model"]()).max()
        rates = {name: [] for name in candidates}
        for _ in range(args.rounds):
            for name, call in candidates.items():
                start = time.perf_counter()
                for _ in range(args.calls):
                    call().numpy()
                rates[name].append(args.batch * args.calls / (time.perf_counter() - start))
    print(
        f"{cfg.model.backbone} at {cfg.data.height}x{cfg.data.width} "
        f"({precision.resolve(cfg.train.mixed_precision)}), batches of {args.batch} uint8 "
        f"320x160 images, {args.rounds} rounds x {args.calls} calls; largest embedding "
        f"difference {difference:.2e}"
    )
    for name, values in rates.items():
        print(f"  {name:<12} {statistics.median(values):8.1f} images/s (median)")
    ratio = statistics.median(a / b for a, b in zip(rates["saved model"], rates["in-process"]))
    print(f"saved model / in-process = {ratio:.2f}")


if __name__ == "__main__":
    main()
