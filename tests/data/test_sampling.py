import collections

import numpy as np
import pytest
import tensorflow as tf

from tfreid.data import sampling
from tfreid.data.samples import IR, RGB, Sample

P, K = 4, 3


def _samples():
    """10 eligible ids with 1..6 images per modality, one RGB-only and one IR-only id."""
    samples = []
    for pid in range(10):
        for modality, count in ((RGB, 1 + pid % 6), (IR, 1 + (pid * 5) % 6)):
            samples += [
                Sample(f"{pid}/{modality}/{j}.png", 300 + pid, 1 + 2 * modality, modality)
                for j in range(count)
            ]
    samples.append(Sample("rgb_only.png", 900, 1, RGB))
    samples.append(Sample("ir_only.png", 901, 3, IR))
    order = np.random.default_rng(0).permutation(len(samples))
    return [samples[i] for i in order]


def _groups(samples, count, **kwargs):
    kwargs.setdefault("seed", 5)
    ds = sampling.group_dataset(sampling.build_index(samples), P, K, **kwargs)
    return [{k: v.numpy() for k, v in g.items()} for g in ds.take(count)]


def test_training_pids_and_index():
    samples = _samples()
    pids = sampling.training_pids(samples)
    assert pids == list(range(300, 310))
    index = sampling.build_index(samples)
    for label, pid in enumerate(pids):
        for table, modality in ((index.rgb, RGB), (index.ir, IR)):
            row = table[label][table[label] >= 0]
            expected = [i for i, s in enumerate(samples) if s.pid == pid and s.modality == modality]
            assert sorted(row) == expected
    assert sampling.steps_per_epoch(samples, P) == 2


def test_choose_images_without_replacement_unless_too_few():
    table = np.array([[5, 6, 7, 8, 9], [1, -1, -1, -1, -1], [2, 3, -1, -1, -1]], np.int32)
    seen = collections.defaultdict(collections.Counter)
    for i in range(60):
        chosen = sampling.choose_images(table, 3, tf.constant([1, i])).numpy()
        assert len(set(chosen[0])) == 3 and set(chosen[0]) <= {5, 6, 7, 8, 9}
        assert list(chosen[1]) == [1, 1, 1]
        assert set(chosen[2]) <= {2, 3}
        for row, values in enumerate(chosen):
            seen[row].update(values)
    assert set(seen[0]) == {5, 6, 7, 8, 9} and set(seen[2]) == {2, 3}
    np.testing.assert_array_equal(
        sampling.choose_images(table, 3, tf.constant([1, 2])),
        sampling.choose_images(table, 3, tf.constant([1, 2])),
    )


def test_batches_hold_p_identities_with_k_images_per_modality():
    samples = _samples()
    pids = sampling.training_pids(samples)
    for group in _groups(samples, 12):
        labels = group["label"].reshape(P, K)
        assert (labels == labels[:, :1]).all() and len(set(labels[:, 0])) == P
        for key, modality in (("rgb", RGB), ("ir", IR)):
            assert group[key].shape == (P * K,)
            chosen = [samples[i] for i in group[key]]
            assert [s.modality for s in chosen] == [modality] * (P * K)
            assert [pids.index(s.pid) for s in chosen] == list(group["label"])
            for label, images in zip(labels[:, 0], group[key].reshape(P, K), strict=True):
                available = sum(s.pid == pids[label] and s.modality == modality for s in samples)
                if available >= K:
                    assert len(set(images)) == K  # repeats only when fewer than K images


def test_identities_are_not_repeated_within_an_epoch():
    samples = _samples()
    groups = _groups(samples, 2 * 6)  # 6 epochs of 2 steps
    used = collections.Counter()
    for epoch in range(6):
        labels = np.concatenate([g["label"] for g in groups[2 * epoch : 2 * epoch + 2]])
        assert [g["step"] for g in groups[2 * epoch : 2 * epoch + 2]] == [2 * epoch, 2 * epoch + 1]
        ids = labels.reshape(-1, K)[:, 0]
        assert len(set(ids)) == len(ids) == 2 * P
        used.update(ids)
    assert set(used) == set(range(10))  # the 2 ids left over in one epoch come up in others


def test_deterministic_for_a_seed_and_different_across_seeds():
    samples = _samples()
    first, again = _groups(samples, 6, seed=3), _groups(samples, 6, seed=3)
    other = _groups(samples, 6, seed=4)
    for a, b in zip(first, again, strict=True):
        for key in a:
            np.testing.assert_array_equal(a[key], b[key])
    assert any(not np.array_equal(a["rgb"], b["rgb"]) for a, b in zip(first, other, strict=True))


def test_start_step_continues_the_same_stream():
    samples = _samples()
    full = _groups(samples, 9, num_replicas=2)  # 2 steps per epoch, 2 groups per step
    for start in (1, 2, 3):
        resumed = _groups(samples, 9 - 2 * start, num_replicas=2, start_step=start)
        for a, b in zip(full[2 * start :], resumed, strict=True):
            for key in a:
                np.testing.assert_array_equal(a[key], b[key])


def test_replica_groups_split_the_global_batch():
    samples = _samples()
    single = _groups(samples, 6)
    context = tf.distribute.InputContext(num_replicas_in_sync=2)
    split = _groups(samples, 12, num_replicas=context.num_replicas_in_sync)
    for step, whole in enumerate(single):
        pair = split[2 * step : 2 * step + 2]
        assert [g["replica"] for g in pair] == [0, 1] and [g["step"] for g in pair] == [step] * 2
        for group in pair:  # whole groups: P / 2 identities, K images each
            labels = group["label"].reshape(P // 2, K)
            assert (labels == labels[:, :1]).all() and len(set(labels[:, 0])) == P // 2
        assert not set(pair[0]["label"]) & set(pair[1]["label"])
        for key in ("rgb", "ir", "label"):
            np.testing.assert_array_equal(np.concatenate([g[key] for g in pair]), whole[key])


def test_input_pipelines_take_alternate_groups():
    samples = _samples()
    both = _groups(samples, 8, num_replicas=2)
    for pipeline_id in (0, 1):
        mine = _groups(samples, 4, num_replicas=2, num_pipelines=2, pipeline_id=pipeline_id)
        for a, b in zip(both[pipeline_id::2], mine, strict=True):
            assert b["replica"] == pipeline_id
            np.testing.assert_array_equal(a["rgb"], b["rgb"])


def test_errors_name_the_problem():
    samples = _samples()
    with pytest.raises(ValueError, match="only 10 identities have both RGB and IR"):
        sampling.group_dataset(sampling.build_index(samples), 11, K, seed=0)
    with pytest.raises(ValueError, match="not divisible by the 3 replicas"):
        sampling.group_dataset(sampling.build_index(samples), P, K, seed=0, num_replicas=3)
    with pytest.raises(ValueError, match="start_step"):
        sampling.group_dataset(sampling.build_index(samples), P, K, seed=0, start_step=-1)
    with pytest.raises(ValueError, match="modality 2"):
        sampling.build_index([Sample("x.png", 1, 1, 2)])
