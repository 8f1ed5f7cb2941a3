"""Cross-modality P x K batch sampling, a pure function of (seed, global step).

A global batch holds P identities, each with K RGB and K IR images. Only identities that have
both RGB and IR images are eligible. Within an epoch identities are drawn without replacement
(steps per epoch = eligible identities // P; the leftover identities wait for the next
epoch's shuffle); an identity's K images of one modality are drawn without replacement unless
it has fewer than K of them, then with replacement.

Every draw uses stateless TF ops seeded by (seed, epoch), so the stream can be started at any
global step and yields exactly what an uninterrupted run would have: a resumed run trains on
the same data as one that never stopped.

Under a tf.distribute strategy each replica gets whole groups of P_r = P / replicas
identities (batch-hard mining runs within a replica: docs/design.md, "The distribution
rule"). The groups are ordered by global batch then replica and sharded over input
pipelines, so with one worker the R consecutive groups of a global batch go to its R local
replicas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

from tfreid.data.samples import IR, RGB, Sample


class SampleIndex(NamedTuple):
    """Where each eligible identity's images sit in the sample list.

    Attributes:
        pids: the eligible pids, sorted; a pid's position is its training label.
        rgb: int32 [num_ids, max_images] indices into the sample list of each identity's RGB
            images, padded with -1.
        ir: int32 [num_ids, max_images], the same for IR images.
    """

    pids: list[int]
    rgb: np.ndarray
    ir: np.ndarray


def training_pids(samples: Sequence[Sample]) -> list[int]:
    """The sorted pids that have both RGB and IR images; its length is the number of classes."""
    rgb = {s.pid for s in samples if s.modality == RGB}
    ir = {s.pid for s in samples if s.modality == IR}
    return sorted(rgb & ir)


def build_index(samples: Sequence[Sample]) -> SampleIndex:
    """Groups the samples of each eligible identity by modality (padded index tables)."""
    for i, s in enumerate(samples):
        if s.modality not in (RGB, IR):
            raise ValueError(f"sample {i} ({s.path}): modality {s.modality!r}, expected 0 or 1")
    pids = training_pids(samples)
    label = {pid: i for i, pid in enumerate(pids)}
    groups = {RGB: [[] for _ in pids], IR: [[] for _ in pids]}
    for i, s in enumerate(samples):
        if s.pid in label:
            groups[s.modality][label[s.pid]].append(i)
    return SampleIndex(pids, _padded(groups[RGB]), _padded(groups[IR]))


def _padded(rows: list[list[int]]) -> np.ndarray:
    table = np.full((len(rows), max((len(r) for r in rows), default=0)), -1, np.int32)
    for i, row in enumerate(rows):
        table[i, : len(row)] = row
    return table


def steps_per_epoch(samples: Sequence[Sample], num_identities: int) -> int:
    """Global batches per epoch: eligible identities // P."""
    return len(training_pids(samples)) // num_identities


def choose_images(table: tf.Tensor, num_instances: int, seed: tf.Tensor) -> tf.Tensor:
    """Draws K entries from each row of a padded index table.

    Without replacement (random order) when a row has at least K entries, else with
    replacement.

    Args:
        table: int32 [num_ids, max_images], valid entries first, padded with -1; every row
            has at least one valid entry.
        num_instances: K.
        seed: int [2], a stateless seed.

    Returns:
        int32 [num_ids, K], entries of `table`.
    """
    table = tf.convert_to_tensor(table, tf.int32)
    if table.shape[1] < num_instances:  # argsort needs K columns
        table = tf.pad(table, [[0, 0], [0, num_instances - table.shape[1]]], constant_values=-1)
    valid = table >= 0
    counts = tf.reduce_sum(tf.cast(valid, tf.int32), axis=1, keepdims=True)
    key_seed, replace_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    # Uniform keys on valid entries, 2 on padding: the first K of the argsort are a uniform
    # K-subset in random order.
    keys = tf.where(valid, tf.random.stateless_uniform(tf.shape(table), key_seed), 2.0)
    distinct = tf.argsort(keys, axis=1, stable=True)[:, :num_instances]
    u = tf.random.stateless_uniform([tf.shape(table)[0], num_instances], replace_seed)
    repeated = tf.minimum(tf.cast(u * tf.cast(counts, tf.float32), tf.int32), counts - 1)
    columns = tf.where(counts >= num_instances, distinct, repeated)
    return tf.gather(table, columns, batch_dims=1)


def epoch_batches(
    index: SampleIndex, num_identities: int, num_instances: int, seed: int, epoch: tf.Tensor
) -> dict[str, tf.Tensor]:
    """All global batches of one epoch.

    Args:
        index: from `build_index`.
        num_identities: P.
        num_instances: K.
        seed: the run's seed.
        epoch: int64 scalar.

    Returns:
        {"rgb": int32 [steps, P, K] and "ir": int32 [steps, P, K] sample indices,
         "label": int32 [steps, P] training labels}.
    """
    num_ids = len(index.pids)
    steps = num_ids // num_identities
    base = tf.stack([tf.constant(seed, tf.int64), tf.cast(epoch, tf.int64)])
    id_seed, rgb_seed, ir_seed = tf.unstack(tf.random.experimental.stateless_split(base, 3))
    order = tf.random.experimental.stateless_shuffle(tf.range(num_ids, dtype=tf.int32), id_seed)
    labels = tf.reshape(order[: steps * num_identities], [steps, num_identities])
    rgb = choose_images(index.rgb, num_instances, rgb_seed)
    ir = choose_images(index.ir, num_instances, ir_seed)
    return {"rgb": tf.gather(rgb, labels), "ir": tf.gather(ir, labels), "label": labels}


def group_dataset(
    index: SampleIndex,
    num_identities: int,
    num_instances: int,
    *,
    seed: int,
    num_replicas: int = 1,
    num_pipelines: int = 1,
    pipeline_id: int = 0,
    start_step: int = 0,
) -> tf.data.Dataset:
    """Infinite stream of per-replica groups from global step `start_step` on.

    Groups are ordered by global batch then replica and sharded over input pipelines.

    Returns:
        A dataset of {"rgb": int32 [P_r*K], "ir": int32 [P_r*K] sample indices, "label":
        int32 [P_r*K], "step": int64 [] global step, "replica": int32 [] replica within the
        global batch}, identity-major (an identity's K images are contiguous).
    """
    _check_split(index, num_identities, num_instances, num_replicas, num_pipelines, start_step)
    steps = len(index.pids) // num_identities
    per_replica = num_identities // num_replicas
    group_size = per_replica * num_instances

    def epoch_groups(epoch):
        batches = epoch_batches(index, num_identities, num_instances, seed, epoch)
        labels = tf.repeat(batches["label"], num_instances, axis=1)
        return tf.data.Dataset.from_tensor_slices(
            {
                "rgb": tf.reshape(batches["rgb"], [steps * num_replicas, group_size]),
                "ir": tf.reshape(batches["ir"], [steps * num_replicas, group_size]),
                "label": tf.reshape(labels, [steps * num_replicas, group_size]),
                "step": tf.repeat(epoch * steps + tf.range(steps, dtype=tf.int64), num_replicas),
                "replica": tf.tile(tf.range(num_replicas, dtype=tf.int32), [steps]),
            }
        )

    groups = tf.data.Dataset.counter(start_step // steps).flat_map(epoch_groups)
    # Skipping whole global batches keeps the shard below aligned with replica order.
    groups = groups.skip((start_step % steps) * num_replicas)
    return groups.shard(num_pipelines, pipeline_id)


def _check_split(index, num_identities, num_instances, num_replicas, num_pipelines, start_step):
    if num_identities < 1 or num_instances < 1:
        raise ValueError(
            f"num_identities (P) and num_instances (K) must be >= 1, got P={num_identities}, "
            f"K={num_instances}"
        )
    if len(index.pids) < num_identities:
        raise ValueError(
            f"only {len(index.pids)} identities have both RGB and IR images, fewer than "
            f"num_identities (P) = {num_identities}"
        )
    if num_identities % num_replicas:
        raise ValueError(
            f"num_identities (P) = {num_identities} is not divisible by the "
            f"{num_replicas} replicas in sync; each replica needs whole P x K groups"
        )
    if num_replicas % num_pipelines:
        raise ValueError(
            f"{num_replicas} replicas cannot be split evenly over {num_pipelines} input pipelines"
        )
    if start_step < 0:
        raise ValueError(f"start_step must be >= 0, got {start_step}")
