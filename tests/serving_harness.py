"""What the search and export tests start from: a tiny SYSU-MM01-layout set and the quickstart
model (ResNet-6, gray input, BN neck) at 32x16, trained two steps or with random weights."""

import os

import numpy as np
import tensorflow as tf
from tools_harness import REPO

from tfreid.config import Config, load_config
from tfreid.data import synthetic
from tfreid.data.augment import resize
from tfreid.data.pipeline import decode_image

QUICKSTART = os.path.join(REPO, "yaml_configs", "quickstart.yaml")
HEIGHT, WIDTH = 32, 16


def write_sysu_set(directory: str, num_ids: int = 8, seed: int = 0) -> str:
    """A synthetic SYSU-MM01-layout set of `num_ids` ids (test ids: 20%, val ids: 20%)."""
    return synthetic.write_sysu(directory, num_ids=num_ids, seed=seed, height=HEIGHT, width=WIDTH)


def quickstart_config(root: str, *overrides: str) -> Config:
    """The quickstart config on `root`: 32x16, P=2, one epoch of two steps, one test trial."""
    return load_config(
        QUICKSTART,
        [
            f"data.root={root}",
            f"data.height={HEIGHT}",
            f"data.width={WIDTH}",
            "data.identities_per_batch=2",
            "train.epochs=1",
            "train.steps_per_epoch=2",
            "eval.trials=1",
            "runtime.strategy=one_device",
            *overrides,
        ],
    )


def random_weights_saved_model(cfg: Config, path: str, seed: int = 0) -> str:
    """Exports the config's model with random (seeded) weights to `path`."""
    import keras

    from tfreid.export import export_saved_model
    from tfreid.methods import resolve
    from tfreid.training import precision

    keras.utils.set_random_seed(seed)
    method, params = resolve(cfg)
    with precision.dtype_policy(cfg.train.mixed_precision):
        parts = method.build(cfg, params, 4, None)
    return export_saved_model(parts, cfg.data, path)


def saved_model_embeddings(saved_model: str, paths, modality: int) -> np.ndarray:
    """float64 [N, D]: the SavedModel's embedding of each file as the evaluation makes it --
    decoded by the pipeline, resized to the model's input size, rounded to uint8 -- computed
    here one image per call (what the search tool's batched embeddings must equal)."""
    serve = tf.saved_model.load(saved_model).signatures["serving_default"]
    rows = []
    for path in paths:
        image = resize(decode_image(tf.constant(str(path)), tf.constant(modality)), HEIGHT, WIDTH)
        image = tf.cast(tf.clip_by_value(tf.round(image), 0, 255), tf.uint8)[None]
        rows.append(serve(image=image, modality=tf.constant([modality]))["embedding"][0])
    return np.asarray(rows, np.float64)
