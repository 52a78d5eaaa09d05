"""The torch top-k backend (used on the model's GPU) gives the numpy path's ids exactly."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from retrieval_helpers import brute_force_topk as brute_force

from muge_eval.errors import UsageError
from muge_eval.retrieval.ranking import choose_backend, exact_topk

pytest.importorskip("torch")


@settings(max_examples=40, deadline=None)
@given(
    st.integers(1, 25),
    st.integers(1, 60),
    st.integers(1, 6),
    st.integers(1, 12),
    st.integers(0, 2**31 - 1),
    st.sampled_from([64, 4096, 1 << 25]),
)
def test_torch_topk_equals_brute_force_with_ties(
    n_queries: int, n_pool: int, dim: int, k: int, seed: int, block: int
) -> None:
    rng = np.random.default_rng(seed)
    pool = rng.integers(-2, 3, (n_pool, dim)).astype(np.float32)
    if n_pool > 3:
        pool[rng.integers(0, n_pool, n_pool // 3)] = pool[0]
    queries = rng.integers(-2, 3, (n_queries, dim)).astype(np.float32)
    result = exact_topk(queries, pool, k, backend="torch", block_elements=block, device="cpu")
    np.testing.assert_array_equal(result.indices, brute_force(queries, pool, min(k, n_pool)))


def test_torch_agrees_with_numpy_on_continuous_data() -> None:
    rng = np.random.default_rng(3)
    pool = rng.standard_normal((3000, 32)).astype(np.float32)
    queries = rng.standard_normal((200, 32)).astype(np.float32)
    a = exact_topk(queries, pool, 10, backend="numpy", block_elements=1 << 16)
    b = exact_topk(queries, pool, 10, backend="torch", block_elements=1 << 16, device="cpu")
    np.testing.assert_array_equal(a.indices, b.indices)
    np.testing.assert_array_equal(a.scores, b.scores)


def test_auto_backend_follows_the_model() -> None:
    assert choose_backend("auto", "cuda:1") == ("torch", "cuda:1")
    assert choose_backend("auto")[1] == "cpu"
    assert choose_backend("numpy", "cuda:1") == ("numpy", "cpu")
    with pytest.raises(UsageError, match="unknown top-k backend"):
        choose_backend("gpu")
