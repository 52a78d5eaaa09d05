"""Ratings from pairwise judgements: Bradley-Terry strengths on the Elo scale, with
percentile bootstrap intervals over the judged items.

Each judgement says which of two models won (or a tie, counted as half a win each way).
Strengths are the Bradley-Terry maximum-likelihood fit (Hunter's MM algorithm). So that
every rating is finite even when one model wins every comparison, each pair starts with
``prior`` virtual comparisons split evenly (our choice; 1 by default, recorded). Ratings
are ``400 log10(strength)`` shifted to average ``ELO_MEAN`` (the scale Chatbot Arena shows).
The bootstrap resamples items (all of an item's judgements together) with the same draws
as the other intervals, and refits.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from muge_eval.metrics.bootstrap import percentile_interval, resample_counts

ELO_MEAN = 1000.0
ELO_SCALE = 400.0
DEFAULT_PRIOR = 1.0
MAX_ITERATIONS = 10_000
TOLERANCE = 1e-12
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Judgement:
    """One comparison of models ``a`` and ``b`` on item ``item``: ``score`` is a's result
    (1 win, 0.5 tie, 0 loss)."""

    item: int
    a: int
    b: int
    score: float


def win_tensor(judgements: Sequence[Judgement], items: int, models: int) -> FloatArray:
    """Per item, wins[i, j] (ties as halves): shape (items, models * models)."""
    tensor = np.zeros((items, models, models), dtype=np.float64)
    for j in judgements:
        tensor[j.item, j.a, j.b] += j.score
        tensor[j.item, j.b, j.a] += 1.0 - j.score
    return tensor.reshape(items, models * models)


def fit_strengths(wins: FloatArray, prior: float = DEFAULT_PRIOR) -> FloatArray:
    """Bradley-Terry strengths (geometric mean 1) from a wins matrix (wins[i, j]: i over j),
    each pair with ``prior`` virtual comparisons split evenly. Works on a stack of
    matrices (..., models, models) at once."""
    wins = wins + prior / 2 * (1 - np.eye(wins.shape[-1]))
    games = wins + np.swapaxes(wins, -1, -2)
    total_wins = wins.sum(axis=-1)
    strength = np.ones(wins.shape[:-1], dtype=np.float64)
    for _ in range(MAX_ITERATIONS):
        pair = strength[..., :, None] + strength[..., None, :]
        denominator = (games / np.where(pair > 0, pair, 1.0)).sum(axis=-1)
        updated = np.where(denominator > 0, total_wins / np.where(denominator > 0, denominator, 1.0), strength)
        updated = np.where(updated > 0, updated, np.finfo(np.float64).tiny)
        updated /= np.exp(np.log(updated).mean(axis=-1, keepdims=True))
        if np.max(np.abs(np.log(updated) - np.log(strength))) < TOLERANCE:
            return updated
        strength = updated
    return strength


def elo(strengths: FloatArray) -> FloatArray:
    """Ratings on the Elo scale, averaging ELO_MEAN."""
    logs = ELO_SCALE * np.log10(strengths)
    result: FloatArray = logs - logs.mean(axis=-1, keepdims=True) + ELO_MEAN
    return result


@dataclass(frozen=True)
class Ratings:
    ratings: FloatArray
    intervals: tuple[tuple[float, float], ...]
    wins: FloatArray  # summed wins[i, j] over all items (ties as halves)


def rate(
    judgements: Sequence[Judgement],
    items: int,
    models: int,
    resamples: int,
    seed: int,
    prior: float = DEFAULT_PRIOR,
) -> Ratings:
    """Elo-scale Bradley-Terry ratings of ``models`` and their 95% bootstrap intervals."""
    tensor = win_tensor(judgements, items, models)
    wins = tensor.sum(axis=0).reshape(models, models)
    ratings = elo(fit_strengths(wins, prior))
    draws = np.empty((resamples, models), dtype=np.float64)
    for start, counts in resample_counts(items, resamples, seed):
        resampled = (counts @ tensor).reshape(len(counts), models, models)
        draws[start : start + len(counts)] = elo(fit_strengths(resampled, prior))
    intervals = tuple(percentile_interval(draws[:, m]) for m in range(models))
    return Ratings(ratings, intervals, wins)
