"""Property tests: recall is monotone in k, query order does not matter, exact top-k
equals a brute-force sort with the tie rule; closed-form mAP@10 and nDCG@10 cases."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from retrieval_helpers import brute_force_topk as brute_force

from muge_eval.retrieval.metrics import average_precision_at_k, ndcg_at_k, recall_at_k
from muge_eval.retrieval.ranking import exact_topk

rankings_strategy = st.lists(
    st.tuples(
        st.lists(st.integers(0, 30), min_size=10, max_size=10, unique=True),
        st.frozensets(st.integers(0, 30), max_size=6),
    ),
    min_size=1,
    max_size=40,
)


@given(rankings_strategy)
def test_recall_is_monotone_in_k(data: list[tuple[list[int], frozenset[int]]]) -> None:
    rankings = [r for r, _ in data]
    relevant = [rel for _, rel in data]
    values = [recall_at_k(rankings, relevant, k) for k in range(1, 11)]
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert values[0] >= 0.0 and values[-1] <= 100.0


@given(rankings_strategy, st.randoms(use_true_random=False))
def test_query_order_does_not_matter(data: list[tuple[list[int], frozenset[int]]], rng: object) -> None:
    shuffled = list(data)
    rng.shuffle(shuffled)  # type: ignore[attr-defined]
    for k in (1, 5, 10):
        assert recall_at_k([r for r, _ in data], [s for _, s in data], k) == pytest.approx(
            recall_at_k([r for r, _ in shuffled], [s for _, s in shuffled], k), abs=1e-12
        )


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 25),
    st.integers(1, 60),
    st.integers(1, 6),
    st.integers(1, 12),
    st.integers(0, 2**31 - 1),
    st.sampled_from(["numpy", "faiss"]),
    st.sampled_from([64, 4096, 1 << 25]),
)
def test_topk_equals_brute_force_with_ties(
    n_queries: int, n_pool: int, dim: int, k: int, seed: int, backend: str, block: int
) -> None:
    if backend == "faiss":
        pytest.importorskip("faiss")
    rng = np.random.default_rng(seed)
    # Small integer vectors make exact ties common; duplicated rows make them certain.
    pool = rng.integers(-2, 3, (n_pool, dim)).astype(np.float32)
    if n_pool > 3:
        pool[rng.integers(0, n_pool, n_pool // 3)] = pool[0]
    queries = rng.integers(-2, 3, (n_queries, dim)).astype(np.float32)
    result = exact_topk(queries, pool, k, backend=backend, block_elements=block)
    expected = brute_force(queries, pool, min(k, n_pool))
    np.testing.assert_array_equal(result.indices, expected)


def test_backends_agree_on_continuous_data() -> None:
    pytest.importorskip("faiss")
    rng = np.random.default_rng(3)
    pool = rng.standard_normal((3000, 32)).astype(np.float32)
    queries = rng.standard_normal((200, 32)).astype(np.float32)
    a = exact_topk(queries, pool, 10, backend="numpy", block_elements=1 << 16)
    b = exact_topk(queries, pool, 10, backend="faiss")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_average_precision_closed_form() -> None:
    # Hits at ranks 1 and 3 of 2 relevant items: (1/1 + 2/3) / 2.
    assert average_precision_at_k([5, 9, 6, 1], {5, 6}) == pytest.approx((1 + 2 / 3) / 2)
    # 12 relevant items, all 10 ranks hits: normalised by min(12, 10).
    assert average_precision_at_k(list(range(10)), set(range(12))) == pytest.approx(1.0)
    assert average_precision_at_k([1, 2], set()) == 0.0


def test_ndcg_closed_form() -> None:
    # One relevant item at rank 3: (1 / log2 4) / (1 / log2 2) = 0.5.
    assert ndcg_at_k([7, 8, 9], {9}) == pytest.approx(0.5)
    # Two relevant at ranks 2 and 4: (1/log2 3 + 1/log2 5) / (1 + 1/log2 3).
    expected = (1 / math.log2(3) + 1 / math.log2(5)) / (1 + 1 / math.log2(3))
    assert ndcg_at_k([0, 1, 2, 3], {1, 3}) == pytest.approx(expected)
    assert ndcg_at_k([1], set()) == 0.0
