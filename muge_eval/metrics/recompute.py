"""Corpus metrics recomputed from per-item sufficient statistics.

Some corpus metrics are a function of sums over items: corpus BLEU is a function of the
summed hypothesis lengths, closest reference lengths, guesses and clipped matches. Each
item's statistics are stored in its sample, so a bootstrap resamples items, sums their
statistics and applies the function again, as sacrebleu's paired bootstrap does.

A rule is registered here by name; a metric spec names it (``recompute``) and the results
file records it in ``metric_info``, so the leaderboard recomputes the metric without the
task type's package. Rules are vectorised: ``function(sums, args)`` maps an array of shape
``(..., width)`` of summed statistics to the metric's values, shape ``(...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]

# pycocoevalcap's BleuScorer constants (added to numerators and denominators).
BLEU_TINY = 1e-15
BLEU_SMALL = 1e-9


@dataclass(frozen=True)
class RecomputeRule:
    name: str
    description: str
    function: Callable[[FloatArray, Mapping[str, Any]], FloatArray]
    # Why a width or argument does not fit, or "" when it does.
    check: Callable[[int, Mapping[str, Any]], str]


def _bleu_max_order(width: int) -> int:
    return (width - 2) // 2


def _check_bleu(width: int, args: Mapping[str, Any]) -> str:
    max_order = _bleu_max_order(width)
    order = args.get("order")
    if width < 4 or width % 2:
        return f"BLEU statistics have 2 + 2 x max order numbers per item, not {width}"
    if not isinstance(order, int) or isinstance(order, bool) or not 1 <= order <= max_order:
        return f"BLEU order must be an integer from 1 to {max_order}, got {order!r}"
    return ""


def corpus_bleu(sums: FloatArray, args: Mapping[str, Any]) -> FloatArray:
    """Corpus BLEU-``order`` (pycocoevalcap, closest reference length, no smoothing) from
    summed [hypothesis length, reference length, guesses 1..N, clipped matches 1..N]."""
    order = int(args["order"])
    max_order = _bleu_max_order(sums.shape[-1])
    hyp_len, ref_len = sums[..., 0], sums[..., 1]
    product = np.ones(sums.shape[:-1], dtype=np.float64)
    for k in range(order):
        guess, correct = sums[..., 2 + k], sums[..., 2 + max_order + k]
        product = product * ((correct + BLEU_TINY) / (guess + BLEU_SMALL))
    bleu = product ** (1.0 / order)
    ratio = (hyp_len + BLEU_TINY) / (ref_len + BLEU_SMALL)
    penalty = np.where(ratio < 1, np.exp(1 - 1 / ratio), 1.0)
    result: FloatArray = bleu * penalty
    return result


RULES: Mapping[str, RecomputeRule] = {
    "bleu": RecomputeRule(
        "bleu",
        "corpus BLEU recomputed from the summed lengths, guesses and clipped matches",
        corpus_bleu,
        _check_bleu,
    ),
}


def find_rule(name: str) -> RecomputeRule | None:
    return RULES.get(name)
