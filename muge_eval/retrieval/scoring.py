"""Score a checked retrieval submission against gold queries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from muge_eval.errors import InputError, Problem
from muge_eval.retrieval.gold import GoldQueries
from muge_eval.retrieval.metrics import first_hit_rank, official_recalls, precision_and_gain_at_k
from muge_eval.retrieval.submission import RetrievalSubmission

RECALL_KEYS = ("r1", "r5", "r10", "mean_recall")
RANK_KEYS = ("map10", "ndcg10")


@dataclass(frozen=True)
class RetrievalScore:
    metrics: Mapping[str, float]
    samples: tuple[Mapping[str, Any], ...]


def score_rankings(gold: GoldQueries, submission: RetrievalSubmission) -> RetrievalScore:
    """Official recalls over every gold query (empty relevant sets count as misses)."""
    if gold.relevant is None:
        raise InputError([Problem(gold.file, "this split has no answers, so it cannot be scored")])
    hits1 = hits5 = hits10 = 0
    ap_total = 0.0
    ndcg_total = 0.0
    samples: list[Mapping[str, Any]] = []
    rankings, relevants = submission.rankings, gold.relevant
    for query_id in gold.ids:
        ranking = rankings[query_id]
        relevant = relevants[query_id]
        # hit@k for every k at once: the first relevant rank decides them all.
        first = first_hit_rank(ranking[:10], relevant)
        if first is None:
            hit1 = hit5 = hit10 = False
            ap = ndcg = 0.0
        else:
            hit1, hit5, hit10 = first <= 1, first <= 5, first <= 10
            ap, ndcg = precision_and_gain_at_k(ranking, relevant, 10)
        hits1 += hit1
        hits5 += hit5
        hits10 += hit10
        ap_total += ap
        ndcg_total += ndcg
        samples.append(
            {
                "query_id": query_id,
                "predicted": ranking,  # a tuple: written as a JSON list
                "relevant": sorted(relevant),
                "hit1": hit1,
                "hit5": hit5,
                "hit10": hit10,
                "ap10": ap,
                "ndcg10": ndcg,
            }
        )
    n = len(gold.ids)
    metrics = official_recalls(hits1, hits5, hits10, n)
    metrics["map10"] = ap_total / n * 100
    metrics["ndcg10"] = ndcg_total / n * 100
    return RetrievalScore(metrics, tuple(samples))
