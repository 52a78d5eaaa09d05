"""Exact top-k on the cases the fused selection has to get right: ties and near-ties at the
k-th score, more near-ties than a row's capacity, blocks narrower than k, a pool smaller
than k, the float32 error bound itself, and vectors that are not finite."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from retrieval_helpers import brute_force_topk as brute_force

from muge_eval.retrieval.ranking import exact_topk
from muge_eval.retrieval.topk_scan import FLOAT32_ROUNDOFF, descending_key, round_down_float32, score_error_bound

BACKENDS = ["numpy", "faiss", "torch"]


def backend_or_skip(backend: str) -> None:
    if backend != "numpy":
        pytest.importorskip(backend)


def near_tie_pool(rng: np.random.Generator, ties: int, others: int) -> tuple[np.ndarray, np.ndarray]:
    """``ties`` pool rows whose float32 scores for the query all round to the same value
    while their float64 scores differ (by j * 2**-30), shuffled among random rows."""
    query = np.array([[1.0, 1.0, 0.0]], dtype=np.float32)
    tied = np.zeros((ties, 3), dtype=np.float32)
    tied[:, 0] = 1.0
    tied[:, 1] = rng.permutation(ties).astype(np.float32) * np.float32(2.0**-30)
    rest = rng.uniform(-1.0, 0.45, (others, 3)).astype(np.float32)  # scores below 0.9
    pool = np.concatenate([tied, rest])[rng.permutation(ties + others)]
    return query, pool


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("block", [64, 1 << 12, 1 << 22])
def test_float32_near_ties_are_ranked_in_float64(backend: str, block: int) -> None:
    backend_or_skip(backend)
    rng = np.random.default_rng(1)
    query, pool = near_tie_pool(rng, ties=60, others=500)
    s32 = (query @ pool.T)[0]
    assert len(np.unique(s32[s32 >= 1.0])) == 1  # float32 cannot tell the 60 apart
    result = exact_topk(query, pool, 10, backend=backend, block_elements=block, device="cpu")
    np.testing.assert_array_equal(result.indices, brute_force(query, pool, 10))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("block", [500, 1 << 22])
def test_float32_rounding_that_reorders_near_duplicates_does_not_change_the_answer(backend: str, block: int) -> None:
    backend_or_skip(backend)
    rng = np.random.default_rng(0)
    base = rng.standard_normal(256).astype(np.float32)
    pool = (base + rng.standard_normal((300, 256)).astype(np.float32) * np.float32(3e-7)).astype(np.float32)
    pool = np.vstack([rng.standard_normal((200, 256)).astype(np.float32), pool])
    queries = (base + rng.standard_normal((20, 256)).astype(np.float32)).astype(np.float32)  # near the cluster
    s32, s64 = queries @ pool.T, queries.astype(np.float64) @ pool.astype(np.float64).T
    assert (np.argmax(s32, axis=1) != np.argmax(s64, axis=1)).sum() >= 5  # float32 gets the order wrong
    for k in (1, 10):
        result = exact_topk(queries, pool, k, backend=backend, block_elements=block, device="cpu")
        np.testing.assert_array_equal(result.indices, brute_force(queries, pool, k))


@pytest.mark.parametrize("backend", BACKENDS)
def test_exact_ties_beyond_a_rows_capacity_keep_the_earliest(backend: str) -> None:
    backend_or_skip(backend)
    rng = np.random.default_rng(2)
    pool = rng.standard_normal((700, 8)).astype(np.float32)
    best = pool[0] * 3
    pool[rng.choice(700, 150, replace=False)] = best  # 150 exact ties at the top, k = 5
    queries = np.vstack([best, rng.standard_normal((6, 8)).astype(np.float32)])
    for block in (40, 1 << 20):
        result = exact_topk(queries, pool, 5, backend=backend, block_elements=block, device="cpu")
        np.testing.assert_array_equal(result.indices, brute_force(queries, pool, 5))
    assert list(result.indices[0]) == sorted(np.nonzero((pool == best).all(axis=1))[0])[:5]


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 90),
    st.integers(1, 20),
    st.integers(0, 2**31 - 1),
    st.sampled_from([1, 7, 64, 1 << 22]),
    st.sampled_from(BACKENDS),
)
def test_continuous_vectors_with_duplicates_match_brute_force(
    n_queries: int, n_pool: int, k: int, seed: int, block: int, backend: str
) -> None:
    backend_or_skip(backend)
    rng = np.random.default_rng(seed)
    pool = (rng.standard_normal((n_pool, 5)) * rng.choice([1e-3, 1.0, 50.0])).astype(np.float32)
    pool[rng.integers(0, n_pool, n_pool // 4)] = pool[-1]
    queries = rng.standard_normal((n_queries, 5)).astype(np.float32)
    result = exact_topk(queries, pool, k, backend=backend, block_elements=block, device="cpu")
    np.testing.assert_array_equal(result.indices, brute_force(queries, pool, min(k, n_pool)))
    exact = (queries.astype(np.float64)[:, None, :] * pool.astype(np.float64)[result.indices]).sum(axis=2)
    np.testing.assert_allclose(result.scores, exact, rtol=1e-12, atol=1e-12)


def test_every_backend_gives_bit_identical_scores() -> None:
    rng = np.random.default_rng(4)
    pool = rng.standard_normal((5000, 64)).astype(np.float32)
    pool[4000:4100] = pool[7]
    queries = rng.standard_normal((300, 64)).astype(np.float32)
    reference = exact_topk(queries, pool, 10, backend="numpy")
    for backend in ("faiss", "torch"):
        pytest.importorskip(backend)
        other = exact_topk(queries, pool, 10, backend=backend, device="cpu")
        np.testing.assert_array_equal(other.indices, reference.indices)
        np.testing.assert_array_equal(other.scores, reference.scores)


@pytest.mark.parametrize("backend", BACKENDS)
def test_k_larger_than_the_pool_and_than_a_block(backend: str) -> None:
    backend_or_skip(backend)
    rng = np.random.default_rng(5)
    pool = rng.standard_normal((13, 4)).astype(np.float32)
    queries = rng.standard_normal((9, 4)).astype(np.float32)
    result = exact_topk(queries, pool, 20, backend=backend, block_elements=5, device="cpu")
    assert result.indices.shape == (9, 13)
    np.testing.assert_array_equal(result.indices, brute_force(queries, pool, 13))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("where", ["queries", "pool"])
def test_vectors_that_are_not_finite_are_refused_with_their_row(bad: float, where: str) -> None:
    rng = np.random.default_rng(6)
    queries = rng.standard_normal((5, 4)).astype(np.float32)
    pool = rng.standard_normal((30, 4)).astype(np.float32)
    (queries if where == "queries" else pool)[3, 2] = bad
    with pytest.raises(ValueError, match=f"{where} row 3 is not finite"):
        exact_topk(queries, pool, 10, backend="numpy")


def test_vectors_too_large_for_float32_scores_are_refused() -> None:
    queries = np.full((2, 4), 1e18, dtype=np.float32)
    pool = np.full((20, 4), 1e18, dtype=np.float32)
    with pytest.raises(ValueError, match="too large"):
        exact_topk(queries, pool, 10, backend="numpy")


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 700), st.integers(0, 2**31 - 1), st.sampled_from([1e-30, 1e-3, 1.0, 1e4]))
def test_the_float32_error_bound_holds(dim: int, seed: int, scale: float) -> None:
    rng = np.random.default_rng(seed)
    queries = (rng.standard_normal((20, dim)) * scale).astype(np.float32)
    pool = (rng.standard_normal((200, dim)) * rng.choice([1.0, 1e-3], size=(200, 1))).astype(np.float32)
    pool[:20] = np.abs(pool[:20]) * np.sign(queries)  # same signs: no cancellation, the worst case
    s32 = (queries @ pool.T).astype(np.float64)
    s64 = queries.astype(np.float64) @ pool.astype(np.float64).T
    norms = np.linalg.norm(queries.astype(np.float64), axis=1)
    bound = score_error_bound(
        norms, float(np.linalg.norm(pool.astype(np.float64), axis=1).max()), dim, FLOAT32_ROUNDOFF
    )
    assert (np.abs(s32 - s64) <= bound[:, None]).all()


def test_float32_helpers_order_and_round_safely() -> None:
    values = np.array([np.inf, 3.0, 2.5, 1e-45, 0.0, -1e-45, -1.5, -np.inf], dtype=np.float32)
    assert list(np.argsort(descending_key(values), kind="stable")) == list(range(len(values)))
    limits = np.array([0.1, -0.1, 1.0 + 2.0**-40, 1e-50, -1e-50])
    rounded = round_down_float32(limits)
    assert rounded.dtype == np.float32 and (rounded.astype(np.float64) <= limits).all()
    assert (np.nextafter(rounded, np.float32(np.inf)).astype(np.float64) > limits).all()


def test_auto_is_numpy_on_the_cpu_and_a_missing_extra_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from muge_eval.errors import UsageError
    from muge_eval.retrieval.ranking import choose_backend

    assert choose_backend("auto") == ("numpy", "cpu")
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "faiss" else real_find_spec(name))
    with pytest.raises(UsageError, match=r"backend=faiss needs 'faiss': pip install 'muge-eval\[faiss\]'"):
        choose_backend("faiss")
