"""evaluate() against hand-worked rankings and a slow per-query reference."""

import numpy as np
import pytest
from evaluation.reference_llcm import eval_llcm
from evaluation.reference_metrics import reference_evaluate

from tfreid.evaluation import metrics
from tfreid.evaluation.metrics import evaluate

# Two queries x five gallery images (rows: queries, columns: gallery images).
G_PIDS = np.array([1, 2, 2, 1, 3])
G_CAMS = np.array([2, 1, 4, 5, 2])
Q_PIDS = np.array([1, 2])
Q_CAMS = np.array([3, 6])
DISTMAT = np.array(
    [
        [0.10, 0.20, 0.30, 0.40, 0.05],
        [0.50, 0.10, 0.35, 0.30, 0.10],
    ]
)


def _assert_same(result, expected):
    assert isinstance(result["mAP"], float) and isinstance(result["mINP"], float)
    assert result["cmc"].shape == np.shape(expected["cmc"])
    np.testing.assert_allclose(result["cmc"], expected["cmc"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["mAP"], expected["mAP"], rtol=0, atol=1e-12)
    np.testing.assert_allclose(result["mINP"], expected["mINP"], rtol=0, atol=1e-12)


def test_sysu_hand_worked():
    # Query 0 (id 1, camera 3) loses gallery 0 and 4 (camera 2), its own-identity image included:
    # kept ranking g1 (id 2), g2 (id 2), g3 (id 1). Identities de-duplicated: [2, 1] -> rank 2;
    # its one true match sits at kept rank 3: AP = 1/3, INP = 1/3.
    # Query 1 (id 2, camera 6) keeps everything; g1 and g4 tie at 0.10 and g1 (lower index)
    # comes first: g1 (2), g4 (3), g3 (1), g2 (2), g0 (1) -> rank 1; matches at ranks 1 and 4:
    # AP = (1/1 + 2/4) / 2 = 3/4, INP = 2/4.
    result = evaluate(DISTMAT, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=20, protocol="sysu")
    expected = {
        "cmc": [0.5, 1.0, 1.0, 1.0, 1.0],  # cut to the gallery's 5 images
        "mAP": (1 / 3 + 3 / 4) / 2,
        "mINP": (1 / 3 + 1 / 2) / 2,
    }
    _assert_same(result, expected)


def test_regdb_hand_worked_removes_nothing():
    # Query 0 now keeps every image: g4 (3), g0 (1), g1 (2), g2 (2), g3 (1) -> first match at
    # rank 2, matches at ranks 2 and 5: AP = (1/2 + 2/5) / 2, INP = 2/5. Query 1 as in SYSU.
    result = evaluate(DISTMAT, Q_PIDS, G_PIDS, Q_CAMS, G_CAMS, max_rank=5, protocol="regdb")
    expected = {
        "cmc": [0.5, 1.0, 1.0, 1.0, 1.0],
        "mAP": ((1 / 2 + 2 / 5) / 2 + 3 / 4) / 2,
        "mINP": (2 / 5 + 1 / 2) / 2,
    }
    _assert_same(result, expected)


def test_sysu_counts_identities_regdb_counts_images():
    # Ranked gallery ids 2, 2, 1: the first true match is the 2nd identity but the 3rd image.
    distmat = np.array([[0.1, 0.2, 0.3]])
    args = (np.array([1]), np.array([2, 2, 1]), np.array([6]), np.array([1, 4, 5]))
    sysu = evaluate(distmat, *args, max_rank=3, protocol="sysu")
    regdb = evaluate(distmat, *args, max_rank=3, protocol="regdb")
    _assert_same(sysu, {"cmc": [0.0, 1.0, 1.0], "mAP": 1 / 3, "mINP": 1 / 3})
    _assert_same(regdb, {"cmc": [0.0, 0.0, 1.0], "mAP": 1 / 3, "mINP": 1 / 3})


def test_query_without_kept_match_is_left_out_of_every_average():
    # Query 0 (id 1, camera 3): its only id-1 image is on camera 2, so SYSU removes it.
    # Query 1 (id 2): ranking g0 (1), g1 (2) -> rank 2, AP = 1/2, INP = 1/2.
    # Query 2 (id 9) has no gallery image at all.
    distmat = np.array([[0.1, 0.2], [0.3, 0.6], [0.1, 0.2]])
    args = (np.array([1, 2, 9]), np.array([1, 2]), np.array([3, 6, 6]), np.array([2, 1]))
    sysu = evaluate(distmat, *args, protocol="sysu")
    _assert_same(sysu, {"cmc": [0.0, 1.0], "mAP": 1 / 2, "mINP": 1 / 2})
    # RegDB removes nothing, so query 0 counts (rank 1, AP = INP = 1); query 2 still does not.
    regdb = evaluate(distmat, *args, protocol="regdb")
    _assert_same(regdb, {"cmc": [0.5, 1.0], "mAP": 3 / 4, "mINP": 3 / 4})


@pytest.mark.parametrize(
    ("distances", "expected_rank"),
    [
        ([0.5, 0.5], 2),  # exact tie: gallery 0 (id 1) first
        ([0.0, -0.0], 2),  # 0.0 and -0.0 are equal distances
        ([1.0 + 1e-12, 1.0], 1),  # distinct in float64 although equal in float32
    ],
)
def test_ties_go_to_the_lower_gallery_index(distances, expected_rank):
    distmat = np.array([distances], dtype=np.float64)
    args = (np.array([2]), np.array([1, 2]), np.array([6]), np.array([1, 4]))
    for protocol in ("sysu", "regdb"):
        result = evaluate(distmat, *args, max_rank=2, protocol=protocol)
        cmc = [0.0, 1.0] if expected_rank == 2 else [1.0, 1.0]
        _assert_same(result, {"cmc": cmc, "mAP": 1 / expected_rank, "mINP": 1 / expected_rank})


def _random_problem(rng, distances):
    num_q, num_g = int(rng.integers(1, 25)), int(rng.integers(1, 45))
    q_pids = rng.choice([3, 17, 40, 333], num_q)
    g_pids = rng.choice([3, 17, 40, 333], num_g)
    q_cams = rng.choice([3, 6], num_q)
    g_cams = rng.choice([1, 2, 4, 5], num_g)
    # Invalid queries: id 999 has no gallery image; under SYSU, camera-3 id 500 only has
    # camera-2 ones.
    q_pids = np.r_[q_pids, 999, 500]
    q_cams = np.r_[q_cams, 6, 3]
    g_pids = np.r_[g_pids, 500]
    g_cams = np.r_[g_cams, 2]
    shape = (len(q_pids), len(g_pids))
    if distances == "continuous":
        distmat = rng.random(shape).astype(np.float32)
    elif distances == "some_ties":  # tied and untied rows side by side
        distmat = rng.random(shape).astype(np.float32)
        distmat[:, ::3] = np.round(distmat[:, ::3], 1)
    elif distances == "few_values":
        distmat = rng.choice([0.25, 0.5, 0.75], shape)  # many ties
    else:
        distmat = rng.integers(-3, 4, shape)  # integer, negative too (e.g. -similarity)
    return distmat, q_pids, g_pids, q_cams, g_cams


@pytest.mark.parametrize("protocol", ["sysu", "regdb"])
@pytest.mark.parametrize("distances", ["continuous", "some_ties", "few_values", "integers"])
@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("block_size", [None, 37])
def test_matches_per_query_reference(protocol, distances, seed, block_size, monkeypatch):
    if block_size is not None:  # many small blocks of queries, as on the real sizes
        monkeypatch.setattr(metrics, "_BLOCK_SIZE", block_size)
    rng = np.random.default_rng(seed)
    problem = _random_problem(rng, distances)
    max_rank = int(rng.integers(1, 30))
    try:
        expected = reference_evaluate(*problem, max_rank=max_rank, protocol=protocol)
    except ValueError:
        with pytest.raises(ValueError, match="no query has a true match"):
            evaluate(*problem, max_rank=max_rank, protocol=protocol)
        return
    _assert_same(evaluate(*problem, max_rank=max_rank, protocol=protocol), expected)


@pytest.mark.parametrize("protocol", ["sysu", "regdb"])
def test_matches_reference_on_a_larger_sysu_like_problem(protocol):
    # Several default-sized blocks; distances rounded so that some rows tie and others do not.
    rng = np.random.default_rng(11)
    q_pids, g_pids = rng.integers(0, 40, 250), rng.integers(0, 40, 1500)
    q_cams, g_cams = rng.choice([3, 6], 250), rng.choice([1, 2, 4, 5], 1500)
    distmat = rng.random((250, 1500)).astype(np.float32)
    distmat[::4] = np.round(distmat[::4], 3)
    problem = (distmat, q_pids, g_pids, q_cams, g_cams)
    expected = reference_evaluate(*problem, protocol=protocol)
    _assert_same(evaluate(*problem, protocol=protocol), expected)


def test_llcm_hand_worked():
    # Query 0 (id 1, camera 3) loses g4 (id 1, camera 3) but keeps g0 (id 1, camera 2):
    # kept ranking by distance g0 (1), g1 (2), g2 (2), g3 (1) -> identity rank 1; matches at
    # kept ranks 1 and 4: AP = (1 + 2/4) / 2 = 3/4, INP = 2/4.
    # Query 1 (id 2, camera 1) loses g1 (id 2, camera 1): g4 (1), g3 (1), g2 (2), g0 (1):
    # identities [1, 2] -> rank 2; one match at rank 3: AP = INP = 1/3.
    g_pids, g_cams = np.array([1, 2, 2, 1, 1]), np.array([2, 1, 4, 5, 3])
    q_pids, q_cams = np.array([1, 2]), np.array([3, 1])
    distmat = np.array([[0.1, 0.2, 0.3, 0.4, 0.05], [0.5, 0.1, 0.35, 0.3, 0.2]])
    result = evaluate(distmat, q_pids, g_pids, q_cams, g_cams, max_rank=3, protocol="llcm")
    expected = {"cmc": [0.5, 1.0, 1.0], "mAP": (3 / 4 + 1 / 3) / 2, "mINP": (2 / 4 + 1 / 3) / 2}
    _assert_same(result, expected)


def _shared_camera_problem(rng, distances):
    """Queries and gallery on the same cameras (LLCM, single-modality), so that removals by
    camera and by (identity, camera) both happen; ids 999 (absent) and 500 (only on the
    query's camera) give queries without a kept match."""
    num_q, num_g = int(rng.integers(1, 25)), int(rng.integers(1, 45))
    q_pids = np.r_[rng.choice([3, 17, 40, 333], num_q), 999, 500]
    q_cams = np.r_[rng.integers(1, 5, num_q), 2, 4]
    g_pids = np.r_[rng.choice([3, 17, 40, 333], num_g), 500]
    g_cams = np.r_[rng.integers(1, 5, num_g), 4]
    shape = (len(q_pids), len(g_pids))
    if distances == "continuous":
        distmat = rng.random(shape)
    else:  # many ties: broken by the lower gallery index in both
        distmat = rng.choice([0.25, 0.5, 0.75], shape)
    return distmat, q_pids, g_pids, q_cams, g_cams


@pytest.mark.parametrize("distances", ["continuous", "few_values"])
@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("block_size", [None, 37])
def test_llcm_and_cross_camera_match_their_references(distances, seed, block_size, monkeypatch):
    if block_size is not None:
        monkeypatch.setattr(metrics, "_BLOCK_SIZE", block_size)
    problem = _shared_camera_problem(np.random.default_rng(seed), distances)
    got = evaluate(*problem, protocol="llcm")
    cmc, m_ap, m_inp = eval_llcm(*problem)
    _assert_same(got, {"cmc": cmc[: len(got["cmc"])], "mAP": m_ap, "mINP": m_inp})
    try:
        expected = reference_evaluate(*problem, protocol="cross_camera")
    except ValueError:  # every query may lose its matches with its camera
        with pytest.raises(ValueError, match="no query has a true match"):
            evaluate(*problem, protocol="cross_camera")
        return
    _assert_same(evaluate(*problem, protocol="cross_camera"), expected)


def test_llcm_on_a_larger_problem_matches_the_port():
    rng = np.random.default_rng(12)
    q_pids, g_pids = rng.integers(0, 40, 250), rng.integers(0, 40, 1500)
    q_cams, g_cams = rng.integers(1, 10, 250), rng.integers(1, 10, 1500)
    distmat = rng.random((250, 1500)).astype(np.float32)
    got = evaluate(distmat, q_pids, g_pids, q_cams, g_cams, protocol="llcm")
    cmc, m_ap, m_inp = eval_llcm(distmat, q_pids, g_pids, q_cams, g_cams)
    _assert_same(got, {"cmc": cmc, "mAP": m_ap, "mINP": m_inp})


def test_dropping_invalid_queries_changes_nothing():
    distmat, q_pids, g_pids, q_cams, g_cams = _random_problem(
        np.random.default_rng(0), "continuous"
    )
    full = evaluate(distmat, q_pids, g_pids, q_cams, g_cams)
    # The last two queries (ids 999 and 500 on camera 3) have no kept true match.
    valid = evaluate(distmat[:-2], q_pids[:-2], g_pids, q_cams[:-2], g_cams)
    _assert_same(full, valid)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"distmat": np.zeros(5)}, "distmat must be a non-empty 2-D"),
        ({"distmat": np.zeros((2, 0))}, "distmat must be a non-empty 2-D"),
        ({"distmat": np.full((2, 5), np.nan)}, "NaN"),
        ({"q_pids": np.array([1, 2, 3])}, r"q_pids must have shape \(2,\)"),
        ({"g_pids": np.array([1, 2])}, r"g_pids must have shape \(5,\)"),
        ({"q_camids": np.array([[3, 6]])}, r"q_camids must have shape \(2,\)"),
        ({"g_camids": np.array([1, 2, 4, 5])}, r"g_camids must have shape \(5,\)"),
        ({"protocol": "market"}, "protocol must be one of"),
        ({"max_rank": 0}, "max_rank must be a positive integer"),
        ({"q_pids": np.array([7, 8])}, "no query has a true match"),
    ],
)
def test_bad_input_raises_a_clear_error(change, message):
    kwargs = {
        "distmat": DISTMAT,
        "q_pids": Q_PIDS,
        "g_pids": G_PIDS,
        "q_camids": Q_CAMS,
        "g_camids": G_CAMS,
        **change,
    }
    with pytest.raises(ValueError, match=message):
        evaluate(**kwargs)
