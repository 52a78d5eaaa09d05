"""FID, IS, CLIP score and R-precision against independent references."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import linalg, special, stats

from muge_eval.t2i.agreement import clip_scores, draw_distractors, r_precision
from muge_eval.t2i.fid import (
    feature_statistics,
    fid_from_features,
    frechet_distance,
    frechet_distance_sqrtm,
    load_stats,
    save_stats,
    trace_sqrt_product,
    trace_sqrt_product_gram,
)
from muge_eval.t2i.inception_score import inception_score


def test_fid_identity_covariances_is_squared_mean_distance() -> None:
    m = np.array([1.0, -2.0, 0.5, 3.0])
    assert frechet_distance(np.zeros(4), np.eye(4), m, np.eye(4)) == pytest.approx(float(m @ m), rel=1e-12)


def test_fid_diagonal_covariances_closed_form() -> None:
    a, b = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    expected = 1.0 + float(((np.sqrt(a) - np.sqrt(b)) ** 2).sum())
    assert frechet_distance(np.zeros(3), np.diag(a), np.array([1.0, 0, 0]), np.diag(b)) == pytest.approx(expected)


def test_fid_of_sampled_gaussians_approaches_known_answer() -> None:
    rng = np.random.default_rng(0)
    m = np.array([0.3, -0.4, 0.0, 0.5, 0.1])
    x = rng.standard_normal((200_000, 5))
    y = rng.standard_normal((200_000, 5)) + m
    sx, sy = feature_statistics(x), feature_statistics(y)
    assert frechet_distance(sx.mu, sx.sigma, sy.mu, sy.sigma) == pytest.approx(
        float(m @ m), abs=0.015
    )  # ~3 sampling sd


# Both covariances positive definite (Cholesky of S1), S1 singular (Cholesky of S2), both
# singular (eigendecomposition).
@pytest.mark.parametrize(("n", "ny"), [(300, 300), (30, 300), (30, 40)])
def test_fid_matches_scipy_sqrtm_formula(n: int, ny: int) -> None:
    d = 64
    rng = np.random.default_rng(n + ny)
    x = rng.standard_normal((n, d)) @ rng.standard_normal((d, d)) * 0.3
    y = rng.standard_normal((ny, d)) * 1.5 + 0.2
    sx, sy = feature_statistics(x), feature_statistics(y)
    ours = frechet_distance(sx.mu, sx.sigma, sy.mu, sy.sigma)
    covmean = np.real(linalg.sqrtm(sx.sigma @ sy.sigma))
    diff = sx.mu - sy.mu
    reference = float(diff @ diff + np.trace(sx.sigma) + np.trace(sy.sigma) - 2 * np.trace(covmean))
    assert ours == pytest.approx(reference, rel=1e-6)
    assert frechet_distance_sqrtm(sx.mu, sx.sigma, sy.mu, sy.sigma) == pytest.approx(reference, rel=1e-12)
    assert trace_sqrt_product(sx.sigma, sy.sigma) == pytest.approx(float(np.trace(covmean)), rel=1e-6)
    from pytorch_fid.fid_score import calculate_frechet_distance

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its sqrtm(disp=False) is deprecated in SciPy 1.17
        assert ours == pytest.approx(float(calculate_frechet_distance(sx.mu, sx.sigma, sy.mu, sy.sigma)), rel=1e-6)


@pytest.mark.parametrize("n", [5, 40, 70])
def test_gram_form_matches_sqrtm(n: int) -> None:
    rng = np.random.default_rng(n)
    x = rng.standard_normal((n, 64)) * 2 + 1
    real = feature_statistics(rng.standard_normal((200, 64)) @ rng.standard_normal((64, 64)) * 0.2)
    sx = feature_statistics(x)
    covmean = np.real(linalg.sqrtm(sx.sigma @ real.sigma))
    assert trace_sqrt_product_gram(x, real.sigma) == pytest.approx(float(np.trace(covmean)), rel=1e-6)
    assert fid_from_features(x, real) == pytest.approx(
        frechet_distance_sqrtm(sx.mu, sx.sigma, real.mu, real.sigma), rel=1e-6
    )


def test_statistics_are_float64_with_n_minus_1(tmp_path) -> None:
    x = np.arange(12, dtype=np.float32).reshape(4, 3) ** 1.5
    s = feature_statistics(x)
    assert s.mu.dtype == np.float64 and s.sigma.dtype == np.float64 and s.count == 4
    centred = x.astype(np.float64) - x.astype(np.float64).mean(axis=0)
    np.testing.assert_allclose(s.sigma, centred.T @ centred / 3)
    save_stats(tmp_path / "s.npz", s)
    back = load_stats(tmp_path / "s.npz")
    assert back is not None
    np.testing.assert_array_equal(back.sigma, s.sigma)
    assert back.count == 4
    with pytest.raises(ValueError):
        feature_statistics(np.zeros((1, 3)))


def _reference_is(logits: np.ndarray, splits: int, seed: int) -> tuple[float, float]:
    order = np.random.RandomState(seed).permutation(len(logits))
    probs = special.softmax(logits[order].astype(np.float64), axis=1)
    scores = []
    for part in np.array_split(np.arange(len(probs)), splits):
        chunk = probs[part]
        marginal = chunk.mean(axis=0)
        scores.append(np.exp(np.mean([stats.entropy(row, marginal) for row in chunk])))
    return float(np.mean(scores)), float(np.std(scores))


def test_inception_score_matches_direct_computation() -> None:
    logits = np.random.default_rng(3).standard_normal((100, 1008)) * 4
    mean, std = inception_score(logits, 10, 2020)
    ref_mean, ref_std = _reference_is(logits, 10, 2020)
    assert mean == pytest.approx(ref_mean, rel=1e-10)
    assert std == pytest.approx(ref_std, rel=1e-8)
    assert mean > 1.0


def test_inception_score_extremes() -> None:
    assert inception_score(np.zeros((20, 1008)), 10)[0] == pytest.approx(1.0)
    one_hot = np.eye(1008)[np.arange(50)] * 1000.0  # 50 confident, distinct classes, 5 per split
    mean, std = inception_score(one_hot, 10)
    assert mean == pytest.approx(5.0, rel=1e-6) and std == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError):
        inception_score(np.zeros((5, 1008)), 10)


def test_clip_score_is_hundred_times_clipped_cosine() -> None:
    texts = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    images = np.array([[3.0, 0.0], [0.0, -1.0], [1.0, 0.0]])
    np.testing.assert_allclose(clip_scores(texts, images), [100.0, 0.0, 100 / np.sqrt(2)])


def test_r_precision_hits_ties_and_seed() -> None:
    n = 150
    rng = np.random.default_rng(0)
    texts = rng.standard_normal((n, 16))
    images = texts.copy()
    images[:10] = -texts[:10]  # these ten are far from their own description
    descriptions = [f"描述{i}" for i in range(n)]
    result = r_precision(texts, images, descriptions)
    assert result.candidates == 100
    assert not result.hits[:10].any() and result.hits[10:].all()
    assert result.value == pytest.approx(100 * 140 / 150)
    # A tie with a distractor is a miss.
    tied = r_precision(np.ones((3, 4)), np.ones((3, 4)), ["a", "b", "c"])
    assert not tied.hits.any() and tied.candidates == 3


def test_distractors_are_seeded_and_skip_identical_texts() -> None:
    texts = ["同"] * 3 + [f"t{i}" for i in range(200)]
    first, again = draw_distractors(texts, 99, seed=5), draw_distractors(texts, 99, seed=5)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[5], draw_distractors(texts, 99, seed=6)[5])
    for row in range(3):
        assert not set(first[row].tolist()) & {0, 1, 2}
    assert all(len(d) == 99 and row not in d for row, d in enumerate(first))
