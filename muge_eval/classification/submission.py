"""Classification submissions: JSONL, one line per image, its top-5 classes best first.

``{"image_id": "000/0001.jpg", "labels": [3, 0, 7, 1, 9]}``: ``image_id`` is the image's
path relative to the split folder (a string), ``labels`` exactly min(5, number of
classes) distinct class indices (0-based: line index + 1 of the label file), best first.
Every gold image must have a line; an image on two lines is refused, naming both lines;
lines for images that are not in the gold data are counted and ignored. Every problem is
reported at once, with file, line and field, in one pass over the file.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from muge_eval.classification.gold import ClassificationGold
from muge_eval.classification.metrics import TOP_K
from muge_eval.errors import ProblemList
from muge_eval.io.atomic import atomic_write_lines
from muge_eval.io.jsonl import iter_json_lines
from muge_eval.io.ranked_list import check_ranked_ids

ID_FIELD = "image_id"
LABELS_FIELD = "labels"
PREDICTIONS_FILE = "predictions.jsonl"
# Missing gold images named in the message (the rest are counted).
LISTED_MISSING = 20


@dataclass(frozen=True)
class ClassificationSubmission:
    file: str
    predictions: Mapping[str, tuple[int, ...]]
    ignored_images: int


def read_submission(path: Path, gold: ClassificationGold) -> ClassificationSubmission:
    """Parse and check a submission against the gold images; raise every problem at once."""
    problems = ProblemList(str(path))
    k = min(TOP_K, gold.num_classes)
    predictions: dict[str, tuple[int, ...]] = {}
    first_line: dict[str, int] = {}
    for line in iter_json_lines(path, "submission"):
        if line.error:
            problems.add(line.error, line.number)
            continue
        obj = line.value
        if not isinstance(obj, dict):
            problems.add("each line must be a JSON object", line.number)
            continue
        if ID_FIELD not in obj:
            problems.add("missing", line.number, ID_FIELD)
            continue
        image_id = obj[ID_FIELD]
        if not isinstance(image_id, str) or not image_id:
            message = f"must be a non-empty string (the image's path in the split), got {image_id!r}"
            problems.add(message, line.number, ID_FIELD)
            continue
        if LABELS_FIELD not in obj:
            problems.add(f"missing (image {image_id})", line.number, LABELS_FIELD)
            continue
        if image_id in first_line:
            problems.add(f"image {image_id} also on line {first_line[image_id]}", line.number, ID_FIELD)
            continue
        first_line[image_id] = line.number
        checked = check_ranked_ids(
            obj[LABELS_FIELD],
            k,
            field=LABELS_FIELD,
            subject=f"image {image_id}",
            line=line.number,
            problems=problems,
            noun="class indices",
            allowed=range(gold.num_classes),
        )
        if checked:
            predictions[image_id] = tuple(obj[LABELS_FIELD])
    missing = [i for i in gold.image_ids if i not in first_line]
    if missing:
        shown = ", ".join(missing[:LISTED_MISSING])
        more = f" and {len(missing) - LISTED_MISSING} more" if len(missing) > LISTED_MISSING else ""
        problems.add(f"{len(missing)} gold images have no line: {shown}{more}", None, ID_FIELD)
    problems.raise_if_any(f"invalid submission {path.name}")
    gold_ids = set(gold.image_ids)
    ignored = sum(1 for i in first_line if i not in gold_ids)
    return ClassificationSubmission(str(path), predictions, ignored)


def write_predictions(ids: Sequence[str], predictions: Mapping[str, Sequence[int]]) -> Callable[[Path], None]:
    """A PredictionFile writer: one submission line per image, in gold order."""

    def lines() -> Iterator[str]:
        for image_id in ids:
            yield json.dumps({ID_FIELD: image_id, LABELS_FIELD: list(predictions[image_id])}, ensure_ascii=False)

    def write(path: Path) -> None:
        atomic_write_lines(path, lines)

    return write
