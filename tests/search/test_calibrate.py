"""The "no match" threshold: its choice, its rates against a direct count, and its use."""

import os

import numpy as np
import pytest
from serving_harness import saved_model_embeddings

from tfreid.evaluation.features import distance
from tfreid.search import commands, store
from tfreid.search.calibrate import calibrate, choose_threshold
from tfreid.search.images import collect_images
from tfreid.search.vectors import VectorSettings

RGB, IR = 0, 1


def test_the_threshold_accepts_at_most_the_target_share_of_non_mated_searches():
    non_mated = np.array([0.9, 0.5, 0.7, 0.3, 1.1, 0.6, 0.8, 1.0, 0.4, 1.2])
    assert choose_threshold(non_mated, 0.2, upper=2.0) == pytest.approx(0.45)  # 0.3, 0.4 in
    assert choose_threshold(non_mated, 0.25, upper=2.0) == pytest.approx(0.45)  # 2.5 -> 2
    assert choose_threshold(non_mated, 0.0, upper=2.0) == pytest.approx(0.15)
    assert choose_threshold(non_mated, 1.0, upper=2.0) == 2.0
    tied = np.array([0.2, 0.5, 0.5, 0.9])  # the two 0.5 go together: only 0.2 may be in
    assert choose_threshold(tied, 0.5, upper=2.0) == pytest.approx(0.35)
    with pytest.raises(ValueError, match="no threshold reaches"):
        choose_threshold(np.array([0.0, 0.4]), 0.0, upper=2.0)


def test_rates_match_a_direct_count():
    """Four persons in the gallery, queries of persons 1-5 (5 is nobody there)."""
    rng = np.random.default_rng(3)
    centres = rng.normal(size=(5, 8))
    g_pids = np.repeat([1, 2, 3, 4], 3)
    gallery = centres[g_pids - 1] + 0.6 * rng.normal(size=(12, 8))
    q_pids = np.array([1, 1, 2, 3, 4, 4, 5, 5])
    queries = centres[q_pids - 1] + 0.6 * rng.normal(size=(8, 8))
    result = calibrate(queries, q_pids, gallery, g_pids, "cosine", target=0.25)

    dist = distance(queries, gallery)
    nearest = dist.min(axis=1)
    right = g_pids[dist.argmin(axis=1)] == q_pids
    mated = q_pids <= 4
    left_out = [dist[q, g_pids != q_pids[q]].min() for q in np.flatnonzero(mated)]
    non_mated = np.concatenate([nearest[~mated], left_out])
    t = result.threshold
    assert result.mated_searches == 6 and result.non_mated_searches == 8
    assert result.false_match_rate == pytest.approx(np.mean(non_mated <= t))
    assert result.false_match_rate <= 0.25
    assert result.hit_rate == pytest.approx(np.mean((right & (nearest <= t))[mated]))
    # The next non-mated distance above the threshold would break the target.
    above = np.sort(non_mated[non_mated > t])[0]
    assert np.mean(non_mated <= above) > 0.25


def test_calibrate_stores_the_threshold_and_query_uses_it(saved_model, sysu_set, tmp_path):
    """Calibrated on the set's IR images against its RGB images; the stored threshold decides
    `no_match` of queries to the camera-1 index unless --threshold is given."""
    index = str(tmp_path / "idx")
    commands.build(saved_model, os.path.join(sysu_set, "cam1"), RGB, index, VectorSettings())
    result = commands.calibrate_threshold(index, sysu_set, IR, target=0.1)

    queries = collect_images(sysu_set, IR)
    gallery = collect_images(sysu_set, RGB)
    q = saved_model_embeddings(saved_model, [s.path for s in queries], IR)
    g = saved_model_embeddings(saved_model, [s.path for s in gallery], RGB)
    expected = calibrate(
        q, np.array([s.pid for s in queries]), g, np.array([s.pid for s in gallery]), "cosine", 0.1
    )
    assert result.threshold == pytest.approx(expected.threshold, abs=1e-6)
    assert result.hit_rate == expected.hit_rate
    assert store.open_index(index).threshold == result.threshold

    paths = [s.path for s in queries[::20]]
    stored = commands.search(index, paths, IR, 3, str(tmp_path / "a.json"))
    nearest = distance(q[::20], saved_model_embeddings(saved_model, _paths(index), RGB)).min(1)
    assert [e["no_match"] for e in stored] == list(nearest > result.threshold)
    given = float(np.median(nearest))
    overridden = commands.search(index, paths, IR, 3, str(tmp_path / "b.json"), threshold=given)
    assert [e["no_match"] for e in overridden] == list(nearest > given)


def _paths(index):
    images = store.open_index(index).images
    return [images[i].path for i in sorted(images)]
