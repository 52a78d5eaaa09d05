"""Bradley-Terry ratings against closed-form maximum-likelihood answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from muge_eval.metrics.pairwise import Judgement, elo, fit_strengths, rate


def test_two_models_ratio_is_the_win_ratio() -> None:
    wins = np.array([[0.0, 30.0], [10.0, 0.0]])
    strengths = fit_strengths(wins, prior=0.0)
    assert strengths[0] / strengths[1] == pytest.approx(3.0)
    # one virtual tie per pair: (30 + 0.5) / (10 + 0.5)
    smoothed = fit_strengths(wins, prior=1.0)
    assert smoothed[0] / smoothed[1] == pytest.approx(30.5 / 10.5)
    ratings = elo(smoothed)
    assert ratings.mean() == pytest.approx(1000.0)
    assert ratings[0] - ratings[1] == pytest.approx(400 * math.log10(30.5 / 10.5))


def test_three_models_recover_known_strengths() -> None:
    truth = np.array([4.0, 2.0, 1.0])
    games = 60.0
    wins = games * truth[:, None] / (truth[:, None] + truth[None, :]) * (1 - np.eye(3))
    strengths = fit_strengths(wins, prior=0.0)
    assert strengths / strengths[2] == pytest.approx(truth)


def test_a_clean_sweep_stays_finite_and_intervals_cover() -> None:
    judgements = [Judgement(item, 0, 1, 1.0) for item in range(20)]
    judgements += [Judgement(item, 1, 2, 0.5) for item in range(20)]
    result = rate(judgements, 20, 3, 200, 7)
    assert np.isfinite(result.ratings).all()
    assert result.ratings[0] > result.ratings[1]
    assert result.ratings[1] == pytest.approx(result.ratings[2], abs=60)  # only ties between them
    for rating, (low, high) in zip(result.ratings, result.intervals, strict=True):
        assert low <= rating + 1e-9 and rating - 1e-9 <= high
    assert result.wins[0, 1] == 20 and result.wins[1, 2] == 10
