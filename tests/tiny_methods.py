"""Tiny method configs and random P x (K RGB + K IR) batches shared by the method tests."""

import numpy as np
import tensorflow as tf

from tfreid.config import load_config

P, K, H, W = 3, 2, 32, 16


def tiny_config(*overrides):
    """A ResNet-6 config at H x W trained by plain SGD (no momentum, no weight decay), so a
    test can predict an update as -lr times the gradient."""
    return load_config(
        None,
        [
            "model.backbone=resnet6",
            f"data.height={H}",
            f"data.width={W}",
            "optimizer.learning_rate=0.1",
            "optimizer.momentum=0.0",
            "optimizer.weight_decay=0.0",
            *overrides,
        ],
    )


def random_batch(seed=0):
    """Normal-noise images; identity i holds rows i*K..(i+1)*K-1 in both modalities."""
    rng = np.random.default_rng(seed)
    pid = np.repeat(np.arange(P, dtype=np.int32), K)
    return {
        m: {"image": tf.constant(rng.normal(size=(P * K, H, W, 3)), tf.float32), "pid": pid}
        for m in ("rgb", "ir")
    }
