"""Fréchet distance between two Gaussians fitted to Inception features.

FID = |mu1 - mu2|^2 + Tr(S1) + Tr(S2) - 2 Tr sqrt(S1 S2), statistics in float64 with
covariances over n - 1. Tr sqrt(S1 S2) is computed from eigenvalues: S1 S2 is similar to a
symmetric positive semi-definite matrix (L^T S2 L with S1 = L L^T, or sqrt(S1) S2 sqrt(S1)
when S1 is singular), whose eigenvalues' square roots sum to the trace. A Cholesky factor
and one symmetric eigenvalue problem replace scipy's ``sqrtm``. With fewer generated
images than dimensions, the n x n Gram form is used instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class GaussianStats:
    mu: Array
    sigma: Array
    count: int


def feature_statistics(features: npt.ArrayLike) -> GaussianStats:
    """Mean and covariance (n - 1) of an (n, d) feature matrix, in float64."""
    matrix = np.asarray(features, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2:
        raise ValueError(f"need an (n, d) matrix with n >= 2, got shape {matrix.shape}")
    return GaussianStats(matrix.mean(axis=0), np.cov(matrix, rowvar=False), int(matrix.shape[0]))


def _sqrt_eigenvalue_sum(matrix: Array) -> float:
    eigen = np.linalg.eigvalsh((matrix + matrix.T) / 2)
    return float(np.sqrt(np.clip(eigen, 0.0, None)).sum())


def trace_sqrt_product(sigma1: Array, sigma2: Array) -> float:
    """Tr sqrt(S1 S2) for symmetric positive semi-definite S1, S2.

    S1 S2 has the eigenvalues of the symmetric L^T S2 L where S1 = L L^T (Cholesky), or,
    when neither matrix is numerically positive definite, of sqrt(S1) S2 sqrt(S1).
    """
    s1 = (sigma1 + sigma1.T) / 2
    s2 = (sigma2 + sigma2.T) / 2
    for left, right in ((s1, s2), (s2, s1)):
        try:
            factor = np.linalg.cholesky(left)
        except np.linalg.LinAlgError:
            continue
        return _sqrt_eigenvalue_sum(factor.T @ right @ factor)
    values, vectors = np.linalg.eigh(s1)
    root = (vectors * np.sqrt(np.clip(values, 0.0, None))) @ vectors.T
    return _sqrt_eigenvalue_sum(root @ s2 @ root)


def frechet_distance(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != (mu1.size, mu1.size):
        raise ValueError(
            f"statistics do not match: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}"
        )
    diff = mu1 - mu2
    value = float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * trace_sqrt_product(sigma1, sigma2))
    return max(value, 0.0)


def fid_from_stats(a: GaussianStats, b: GaussianStats) -> float:
    return frechet_distance(a.mu, a.sigma, b.mu, b.sigma)


def trace_sqrt_product_gram(features: npt.ArrayLike, sigma2: Array) -> float:
    """Tr sqrt(S1 S2) where S1 is the covariance of ``features`` (n, d), through the n x n
    matrix X S2 X^T / (n - 1) (X centred): S1 S2 = X^T X S2 / (n - 1) has the same non-zero
    eigenvalues. Exact, and much cheaper than the d x d form when n < d."""
    matrix = np.asarray(features, dtype=np.float64)
    centred = matrix - matrix.mean(axis=0)
    return _sqrt_eigenvalue_sum(centred @ sigma2 @ centred.T / (matrix.shape[0] - 1))


def fid_from_features(features: npt.ArrayLike, reference: GaussianStats) -> float:
    """FID of a feature matrix against reference statistics; uses the n x n form when the
    matrix has fewer rows than dimensions."""
    matrix = np.asarray(features, dtype=np.float64)
    stats = feature_statistics(matrix)
    if matrix.shape[0] >= matrix.shape[1] or stats.mu.shape != reference.mu.shape:
        return fid_from_stats(stats, reference)
    diff = stats.mu - reference.mu
    trace = trace_sqrt_product_gram(matrix, reference.sigma)
    return max(float(diff @ diff + np.trace(stats.sigma) + np.trace(reference.sigma) - 2.0 * trace), 0.0)


def frechet_distance_sqrtm(mu1: Array, sigma1: Array, mu2: Array, sigma2: Array) -> float:
    """The same distance through scipy's ``sqrtm`` (the classic formula), for checks and
    benchmarks only: slow at d = 2048."""
    from scipy import linalg

    diff = np.asarray(mu1, np.float64) - np.asarray(mu2, np.float64)
    covmean = linalg.sqrtm(np.asarray(sigma1, np.float64) @ np.asarray(sigma2, np.float64))
    covmean = np.real(covmean)
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def save_stats(path: Path, stats: GaussianStats) -> None:
    """npz without pickle, written atomically."""
    from muge_eval.io.atomic import atomic_open

    with atomic_open(path, "wb", encoding=None) as handle:
        np.savez(handle, mu=stats.mu, sigma=stats.sigma, count=np.asarray(stats.count, dtype=np.int64))


def load_stats(path: Path) -> GaussianStats | None:
    """Cached statistics; None when the file is absent, damaged or not statistics."""
    from muge_eval.io.npz import read_npz_arrays

    data = read_npz_arrays(path, ("mu", "sigma", "count"))
    if data is None:
        return None
    mu, sigma, count = data["mu"], data["sigma"], data["count"]
    if mu.ndim != 1 or sigma.shape != (len(mu), len(mu)) or count.shape != () or count.dtype.kind not in "iu":
        return None
    if mu.dtype.kind not in "fiu" or sigma.dtype.kind not in "fiu":
        return None
    return GaussianStats(np.asarray(mu, np.float64), np.asarray(sigma, np.float64), int(count))
