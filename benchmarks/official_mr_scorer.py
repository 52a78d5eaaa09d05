"""The anchor for retrieval scoring: the official MUGE MR scorer's loop, written plainly.

An independent re-implementation from the description in REFERENCE.md (not the
organisers' code): read the gold queries, read and check the submission (a JSON object
per line, an integer id, a list of exactly 10 distinct integers, every gold query
present), count hits at 1, 5 and 10, write the official output object. Only the standard
library, as the official script: run as a command it measures the plain interpreter's
start-up plus the loop.

    python benchmarks/official_mr_scorer.py GOLD.jsonl SUBMISSION.jsonl OUTPUT.json
"""

from __future__ import annotations

import json
import sys


def score(gold_path: str, submission_path: str) -> dict[str, float]:
    reference = {}
    with open(gold_path, encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line.strip())
            reference[obj["query_id"]] = obj["item_ids"]
    predictions = {}
    with open(submission_path, encoding="utf-8") as handle:
        for line in handle:
            obj = json.loads(line.strip())
            ids = obj["item_ids"]
            if not isinstance(obj["query_id"], int) or not isinstance(ids, list) or len(ids) != 10:
                raise ValueError(f"bad line for query {obj['query_id']}")
            if any(not isinstance(i, int) for i in ids) or len(set(ids)) != 10:
                raise ValueError(f"bad ids for query {obj['query_id']}")
            predictions[obj["query_id"]] = ids
    missing = set(reference) - set(predictions)
    if missing:
        raise ValueError(f"missing queries: {sorted(missing)}")
    r1 = r5 = r10 = 0
    for qid in reference:
        truth = set(reference[qid])
        top = predictions[qid]
        r1 += any(i in top[:1] for i in truth)
        r5 += any(i in top[:5] for i in truth)
        r10 += any(i in top[:10] for i in truth)
    f1, f5, f10 = r1 * 1.0 / len(reference), r5 * 1.0 / len(reference), r10 * 1.0 / len(reference)
    return {"r1": f1 * 100, "r5": f5 * 100, "r10": f10 * 100, "mean_recall": (f1 + f5 + f10) / 3.0 * 100}


def main(argv: list[str]) -> int:
    gold_path, submission_path, output_path = argv
    try:
        metrics = score(gold_path, submission_path)
        result = {
            "success": True,
            "score": metrics["mean_recall"],
            "scoreJson": {"score": metrics["mean_recall"], **metrics},
        }
    except (OSError, ValueError, KeyError) as exc:
        result = {"errorDetail": str(exc), "errorMsg": str(exc), "score": 0, "scoreJson": {}, "success": False}
    with open(output_path, "w", encoding="utf-8") as handle:
        json.dump(result, handle)
    return 0 if result["success"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
