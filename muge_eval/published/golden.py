"""A published entry as ``regress``'s golden file: the metrics under a results file's
names, and only the identity a publication states (the task card and split)."""

from __future__ import annotations

from typing import Any

from muge_eval.published.records import PublishedResult

PREFIX = "published:"
# What must match between a run and a published entry (a publication states no dataset
# fingerprint, task version or protocol keys; the protocol is compared by `compare`).
IDENTITY_FIELDS = (
    ("task", ("task", "name")),
    ("task type", ("task", "type")),
    ("split", ("dataset", "split")),
    ("--limit", ("run_config", "limit")),
)


def golden_document(entry: PublishedResult) -> dict[str, Any]:
    """The parts of a results document ``regress`` reads, from a published entry."""
    metrics = entry.results_metrics()
    return {
        "task": {"name": entry.task, "type": "retrieval", "version": None},
        "dataset": {"split": entry.split, "fingerprint": None},
        "run_config": {"limit": None},
        "metrics": metrics,
        "metric_info": {name: {"higher_is_better": True} for name in metrics},
        "protocol": {},
        "published": entry.id,
    }
