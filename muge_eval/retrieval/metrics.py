"""Retrieval metrics: the official MUGE recall rules, plus mAP@10 and nDCG@10.

Every function takes, per query, the ranked predicted ids (best first) and the set of
relevant ids. A query with no relevant ids stays in the denominator and scores zero, as
in the official scorer. Recall values are percentages, as MUGE reports them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence

from muge_eval.metrics.spec import MetricSpec

Ranking = Sequence[int]
Relevant = Collection[int]


def first_hit_rank(ranking: Ranking, relevant: Relevant) -> int | None:
    """1-based rank of the first relevant prediction, or None when there is none."""
    for rank, item in enumerate(ranking, start=1):
        if item in relevant:
            return rank
    return None


def hit_at_k(ranking: Ranking, relevant: Relevant, k: int) -> bool:
    """True when any relevant id is among the first ``k`` predictions."""
    return any(item in relevant for item in ranking[:k])


def recall_at_k(rankings: Sequence[Ranking], relevants: Sequence[Relevant], k: int) -> float:
    """Official R@k as a percentage: (hits / queries) * 100, in that order of operations."""
    if len(rankings) != len(relevants):
        raise ValueError("rankings and relevant sets differ in length")
    if not rankings:
        raise ValueError("recall over zero queries is undefined")
    hits = sum(hit_at_k(r, rel, k) for r, rel in zip(rankings, relevants, strict=True))
    return hits * 1.0 / len(rankings) * 100


def official_recalls(hits1: int, hits5: int, hits10: int, queries: int) -> dict[str, float]:
    """R@1, R@5, R@10 and mean recall with the official scorer's arithmetic.

    The official script averages the three fractions and multiplies by 100 last; doing the
    same keeps our numbers equal to its output bit for bit, not just to rounding.
    """
    if queries <= 0:
        raise ValueError("recall over zero queries is undefined")
    r1, r5, r10 = hits1 * 1.0 / queries, hits5 * 1.0 / queries, hits10 * 1.0 / queries
    return {"r1": r1 * 100, "r5": r5 * 100, "r10": r10 * 100, "mean_recall": (r1 + r5 + r10) / 3.0 * 100}


def mean_recall(r1: float, r5: float, r10: float) -> float:
    """The MUGE main metric: the plain mean of R@1, R@5 and R@10."""
    return (r1 + r5 + r10) / 3.0


# 1 / log2(rank + 1) for ranks 1..10, the DCG discounts of MUGE's cut-off (immutable).
DISCOUNTS_AT_10 = tuple(1.0 / math.log2(rank + 1) for rank in range(1, 11))


def _discounts(k: int) -> tuple[float, ...]:
    if k <= len(DISCOUNTS_AT_10):
        return DISCOUNTS_AT_10[:k]
    return tuple(1.0 / math.log2(rank + 1) for rank in range(1, k + 1))


def precision_and_gain_at_k(ranking: Ranking, relevant: Relevant, k: int = 10) -> tuple[float, float]:
    """AP@k and binary-gain nDCG@k in one pass over the first ``k`` predictions.

    AP@k = (1 / min(|relevant|, k)) * sum over hit ranks i <= k of precision@i.
    nDCG@k = (sum over hit ranks i <= k of 1 / log2(i + 1)) / (the same sum for an ideal
    ranking of min(|relevant|, k) hits). Repeated ids count once (the first time); both
    are zero when nothing is relevant.
    """
    if not relevant:
        return 0.0, 0.0
    discounts = _discounts(k)
    hits = 0
    precision_sum = 0.0
    dcg = 0.0
    counted: set[int] = set()
    for rank, item in enumerate(ranking[:k], start=1):
        if item in relevant and item not in counted:
            counted.add(item)
            hits += 1
            precision_sum += hits / rank
            dcg += discounts[rank - 1]
    if not hits:
        return 0.0, 0.0
    best = min(len(relevant), k)
    return precision_sum / best, dcg / math.fsum(discounts[:best])


def average_precision_at_k(ranking: Ranking, relevant: Relevant, k: int = 10) -> float:
    """AP@k (see `precision_and_gain_at_k`)."""
    return precision_and_gain_at_k(ranking, relevant, k)[0]


def ndcg_at_k(ranking: Ranking, relevant: Relevant, k: int = 10) -> float:
    """Binary-gain nDCG@k (see `precision_and_gain_at_k`)."""
    return precision_and_gain_at_k(ranking, relevant, k)[1]


def mean_over_queries(values: Sequence[float]) -> float:
    if not values:
        raise ValueError("mean over zero queries is undefined")
    return 100.0 * math.fsum(values) / len(values)


# --- the specs of the reported metrics ----------------------------------------------------
BASE_METRICS = ("r1", "r5", "r10", "mean_recall", "map10", "ndcg10")
# Reported names carry a prefix per ranking direction (MUGE's own direction has none).
DIRECTION_PREFIX = {"text_to_image": "", "image_to_text": "i2t_"}
_DESCRIPTIONS = {
    "r1": "share of queries with a relevant item at rank 1 (%)",
    "r5": "share of queries with a relevant item in the top 5 (%)",
    "r10": "share of queries with a relevant item in the top 10 (%)",
    "mean_recall": "(R@1 + R@5 + R@10) / 3, the MUGE main metric (%)",
    "map10": "mean average precision at 10 (%)",
    "ndcg10": "binary-gain nDCG at 10 (%)",
}
# The per-query fields of the samples whose mean (x 100) is each metric.
ITEM_FIELDS = {
    "r1": ("hit1",),
    "r5": ("hit5",),
    "r10": ("hit10",),
    "mean_recall": ("hit1", "hit5", "hit10"),
    "map10": ("ap10",),
    "ndcg10": ("ndcg10",),
}


def metric_key(direction: str, name: str) -> str:
    """The reported name of base metric ``name`` for ``direction``."""
    return DIRECTION_PREFIX[direction] + name


def retrieval_metric_specs() -> tuple[MetricSpec, ...]:
    """Every reported retrieval metric, in both directions."""
    specs = []
    for direction, prefix in DIRECTION_PREFIX.items():
        where = "" if not prefix else " (image to text)"
        for name in BASE_METRICS:
            specs.append(
                MetricSpec(
                    name=prefix + name,
                    description=_DESCRIPTIONS[name] + where,
                    higher_is_better=True,
                    unit="percent",
                    aggregation="mean",
                    item_fields=ITEM_FIELDS[name],
                    scale=100.0,
                    item_filter=(("direction", direction),),
                )
            )
    return tuple(specs)
