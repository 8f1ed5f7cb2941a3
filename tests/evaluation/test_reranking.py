"""re_ranking against a hand-worked case, a plain-loop reference and properties that hold."""

import math

import numpy as np
import pytest

from tfreid.evaluation import reranking
from tfreid.evaluation.reranking import re_ranking


def reference_re_ranking(q_g_dist, q_q_dist, g_g_dist, k1, k2, lambda_value):
    """Zhong et al. (CVPR 2017) as docs/design.md describes it, one image at a time, in float64."""
    num_q = len(q_q_dist)
    squared = np.block([[q_q_dist, q_g_dist], [q_g_dist.T, g_g_dist]]).astype(np.float64) ** 2
    dist = (squared / squared.max(axis=0)).T  # column maxima, then transposed
    num = len(dist)
    ranked = [list(np.argsort(dist[i], kind="stable")) for i in range(num)]

    def reciprocal(i, k):
        return [j for j in ranked[i][: k + 1] if i in ranked[j][: k + 1]]

    weights = np.zeros((num, num))
    for i in range(num):
        core = reciprocal(i, k1)
        expanded = set(core)
        for candidate in core:
            candidate_set = reciprocal(candidate, round(k1 / 2))
            if len(set(candidate_set) & set(core)) > 2 / 3 * len(candidate_set):
                expanded |= set(candidate_set)
        members = sorted(expanded)
        weights[i, members] = np.exp(-dist[i, members]) / np.exp(-dist[i, members]).sum()
    if k2 != 1:
        weights = np.array([weights[ranked[i][:k2]].mean(axis=0) for i in range(num)])
    jaccard = np.zeros((num_q, num - num_q))
    for i in range(num_q):
        for j in range(num - num_q):
            overlap = np.minimum(weights[i], weights[num_q + j]).sum()
            jaccard[i, j] = 1 - overlap / (2 - overlap)
    return (1 - lambda_value) * jaccard + lambda_value * dist[:num_q, num_q:]


def _pairwise(a, b):
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(axis=-1))


def _problem(rng, num_q, num_g, kind="embeddings"):
    if kind == "asymmetric":  # not distances of points: checks which way it normalises
        return rng.random((num_q, num_g)), rng.random((num_q, num_q)), rng.random((num_g, num_g))
    if kind == "ties":  # integer points on a small grid: many equal distances
        points = rng.integers(0, 3, (num_q + num_g, 2)).astype(np.float64)
        points[0] = [5.0, 5.0]  # no image at distance 0 from every image
    else:
        points = rng.normal(size=(num_q + num_g, 4))
    queries, gallery = points[:num_q], points[num_q:]
    return _pairwise(queries, gallery), _pairwise(queries, queries), _pairwise(gallery, gallery)


def test_hand_worked_points_on_a_line():
    # Query at 0, gallery at 1 and 3. Squared distances [[0, 1, 9], [1, 0, 4], [9, 4, 0]], over
    # their maxima (9, 4, 9): query row [0, 1/9, 1], g0 row [1/4, 0, 1], g1 row [1, 4/9, 0].
    # k1 = 1: nearest two of q: (q, g0); of g0: (g0, q); of g1: (g1, g0). Reciprocal sets:
    # q -> {q, g0}, g0 -> {g0, q}, g1 -> {g1}. round(1/2) = 0: half sets are the images
    # themselves, so nothing is added. k2 = 1: no query expansion.
    q_g, q_q, g_g = np.array([[1.0, 3.0]]), np.array([[0.0]]), np.array([[0.0, 2.0], [2.0, 0.0]])
    weight_q = np.array([1.0, math.exp(-1 / 9)]) / (1 + math.exp(-1 / 9))  # on (q, g0)
    weight_g0 = np.array([math.exp(-1 / 4), 1.0]) / (1 + math.exp(-1 / 4))  # on (q, g0)
    overlap = np.minimum(weight_q, weight_g0).sum()
    jaccard = np.array([1 - overlap / (2 - overlap), 1.0])  # g1 shares nothing with q
    original = np.array([1 / 9, 1.0])
    result = re_ranking(q_g, q_q, g_g, k1=1, k2=1, lambda_value=0.3)
    np.testing.assert_allclose(result, [0.7 * jaccard + 0.3 * original], atol=1e-6)
    np.testing.assert_allclose(result[0, 0], 0.148843, atol=1e-6)  # by hand, 6 digits


@pytest.mark.parametrize("kind", ["embeddings", "ties", "asymmetric"])
@pytest.mark.parametrize("seed", range(4))
def test_matches_loop_reference(kind, seed):
    rng = np.random.default_rng(seed)
    num_q, num_g = int(rng.integers(2, 10)), int(rng.integers(2, 20))
    k1, k2 = int(rng.integers(1, 12)), int(rng.integers(1, 8))
    lambda_value = float(rng.random())
    problem = _problem(rng, num_q, num_g, kind)
    result = re_ranking(*problem, k1=k1, k2=k2, lambda_value=lambda_value)
    expected = reference_re_ranking(*problem, k1, k2, lambda_value)
    assert result.shape == (num_q, num_g) and result.dtype == np.float32
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5)


def test_chunked_work_matches_loop_reference(monkeypatch):
    # Real sizes are sorted and scored in chunks of rows; small chunks here do the same.
    monkeypatch.setattr(reranking, "_SORT_CHUNK", 3)
    monkeypatch.setattr(reranking, "_JACCARD_CHUNK", 2)
    problem = _problem(np.random.default_rng(6), 9, 17)
    expected = reference_re_ranking(*problem, 6, 3, 0.3)
    result = re_ranking(*problem, k1=6, k2=3, lambda_value=0.3)
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-5)


def test_default_parameters_match_loop_reference():
    problem = _problem(np.random.default_rng(7), 12, 30)
    expected = reference_re_ranking(*problem, 20, 6, 0.3)
    np.testing.assert_allclose(re_ranking(*problem), expected, rtol=0, atol=1e-5)


def test_lambda_one_gives_the_squared_normalised_original():
    q_g, q_q, g_g = _problem(np.random.default_rng(1), 6, 15)
    result = re_ranking(q_g, q_q, g_g, lambda_value=1.0)
    # Query i's column of the stacked matrix holds q_q[:, i] and q_g[i, :].
    maxima = np.maximum((q_q**2).max(axis=0), (q_g**2).max(axis=1))
    np.testing.assert_allclose(result, q_g**2 / maxima[:, None], rtol=1e-6)


def test_values_lie_in_unit_interval():
    result = re_ranking(*_problem(np.random.default_rng(2), 8, 25), k1=6, k2=3, lambda_value=0.0)
    # Weight rows sum to 1 only up to float32 rounding, hence the small slack.
    assert result.min() >= -1e-6 and result.max() <= 1.0 + 1e-6


def test_invariant_to_the_distance_scale():
    q_g, q_q, g_g = _problem(np.random.default_rng(3), 7, 20)
    result = re_ranking(q_g, q_q, g_g, k1=5, k2=3)
    scaled = re_ranking(3.7 * q_g, 3.7 * q_q, 3.7 * g_g, k1=5, k2=3)
    np.testing.assert_allclose(scaled, result, atol=1e-6)


def test_permuting_images_permutes_the_result():
    q_g, q_q, g_g = _problem(np.random.default_rng(4), 7, 20)  # no ties
    result = re_ranking(q_g, q_q, g_g, k1=5, k2=3)
    rng = np.random.default_rng(5)
    qp, gp = rng.permutation(7), rng.permutation(20)
    permuted = re_ranking(q_g[qp][:, gp], q_q[qp][:, qp], g_g[gp][:, gp], k1=5, k2=3)
    np.testing.assert_allclose(permuted, result[qp][:, gp], atol=1e-6)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"q_g_dist": np.ones(4)}, "q_g_dist must be a non-empty 2-D array"),
        ({"q_q_dist": np.ones((3, 3))}, r"q_q_dist must have shape \(2, 2\)"),
        ({"g_g_dist": np.ones((3, 4))}, r"g_g_dist must have shape \(4, 4\)"),
        ({"g_g_dist": -np.ones((4, 4))}, "g_g_dist must hold finite, non-negative"),
        ({"q_g_dist": np.full((2, 4), np.inf)}, "q_g_dist must hold finite, non-negative"),
        ({"k1": 0}, "k1 must be a positive integer"),
        ({"k2": 2.5}, "k2 must be a positive integer"),
        ({"lambda_value": 1.5}, r"lambda_value must be in \[0, 1\]"),
        (
            {"q_g_dist": np.zeros((2, 4)), "q_q_dist": np.zeros((2, 2))},
            "image 0 .* distance 0 from every image",
        ),
    ],
)
def test_bad_input_raises_a_clear_error(change, message):
    kwargs = {"q_g_dist": np.ones((2, 4)), "q_q_dist": np.ones((2, 2)), "g_g_dist": np.ones((4, 4))}
    with pytest.raises(ValueError, match=message):
        re_ranking(**{**kwargs, **change})
