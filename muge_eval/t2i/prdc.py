"""Precision and recall (Kynkäänniemi et al. 2019), density and coverage (Naeem et al.
2020) of generated against real features, k nearest neighbours, as the ``prdc`` package
(clovaai/generative-evaluation-prdc) computes them.

Each real point i has a ball of radius r_i, its distance to its k-th nearest real
neighbour (the (k+1)-th smallest distance of its row, itself included); likewise for the
generated points. With d(i, j) the Euclidean distance between real i and generated j:

- precision = share of generated j with d(i, j) < r_i for some real i;
- recall = share of real i with d(i, j) < r'_j for some generated j (r' from generated);
- density = (1 / k) x mean over generated j of the number of real balls containing j;
- coverage = share of real i whose nearest generated point lies inside its ball.

Distances are computed in float64 over row blocks (|a|^2 + |b|^2 - 2 a . b, clipped at 0,
the form sklearn's ``pairwise_distances`` uses; a point's distance to itself is 0), so
memory stays bounded for any set size.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

PRDC_K = 5
BLOCK_ROWS = 1024

Array = npt.NDArray[np.float64]


@dataclass(frozen=True)
class PRDC:
    precision: float
    recall: float
    density: float
    coverage: float
    k: int
    # Per generated image: how many real balls contain it (density) and whether any does
    # (precision).
    real_balls: npt.NDArray[np.int64]

    @property
    def in_real(self) -> npt.NDArray[np.bool_]:
        return self.real_balls > 0


def _distance_blocks(a: Array, b: Array, same: bool = False) -> Iterator[tuple[int, Array]]:
    """(first row, Euclidean distances of a block of rows of ``a`` to every row of ``b``)."""
    a_norms = np.einsum("ij,ij->i", a, a)
    b_norms = np.einsum("ij,ij->i", b, b)
    for start in range(0, len(a), BLOCK_ROWS):
        stop = min(len(a), start + BLOCK_ROWS)
        squared = -2.0 * (a[start:stop] @ b.T)
        squared += a_norms[start:stop, None]
        squared += b_norms[None, :]
        np.maximum(squared, 0.0, out=squared)
        if same:
            rows = np.arange(stop - start)
            squared[rows, rows + start] = 0.0
        yield start, np.sqrt(squared)


def neighbour_radii(features: Array, k: int) -> Array:
    """Distance of each row to its k-th nearest other row (the (k+1)-th smallest of its
    distances, its own 0 included)."""
    radii = np.empty(len(features))
    for start, block in _distance_blocks(features, features, same=True):
        radii[start : start + len(block)] = np.partition(block, k, axis=1)[:, k]
    return radii


def prdc(real: npt.ArrayLike, generated: npt.ArrayLike, k: int = PRDC_K) -> PRDC:
    """Precision, recall, density and coverage of ``generated`` against ``real`` rows."""
    x = np.asarray(real, dtype=np.float64)
    y = np.asarray(generated, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1]:
        raise ValueError(f"need (n, d) feature matrices of one width, got {x.shape} and {y.shape}")
    if len(x) <= k or len(y) <= k:
        raise ValueError(f"precision/recall with k={k} needs more than {k} real and generated images")
    real_radii = neighbour_radii(x, k)
    generated_radii = neighbour_radii(y, k)
    real_balls = np.zeros(len(y), dtype=np.int64)
    recalled = np.zeros(len(x), dtype=bool)
    covered = np.zeros(len(x), dtype=bool)
    for start, block in _distance_blocks(x, y):
        radii = real_radii[start : start + len(block), None]
        real_balls += (block < radii).sum(axis=0)
        recalled[start : start + len(block)] = (block < generated_radii[None, :]).any(axis=1)
        covered[start : start + len(block)] = block.min(axis=1) < radii[:, 0]
    return PRDC(
        precision=float((real_balls > 0).mean()),
        recall=float(recalled.mean()),
        density=float((1.0 / k) * real_balls.mean()),
        coverage=float(covered.mean()),
        k=k,
        real_balls=real_balls,
    )
