"""``llm_judge``: every caption scored 1-10 by a judge model with a fixed Chinese rubric
(``rubrics/pointwise_zh.txt``, its sha256 recorded), the judge's reason kept in the
samples, answers cached so that a rerun (or another run with the same captions) asks
nothing twice. The number depends on the judge model and the rubric: the results say so.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image

from muge_eval.caption.chat_judge import (
    ChatJudge,
    ChatJudgeSettings,
    Question,
    first_json_object,
    item_key,
    judgement_cache,
    load_rubric,
    numbered,
)
from muge_eval.progress import Progress

RUBRIC = "pointwise_zh.txt"
SCORE_RANGE = (1.0, 10.0)
SCORE_FALLBACK = re.compile(r"(?:score|分数|评分|得分)[\"”]?\s*[:：]\s*(\d+(?:\.\d+)?)", re.IGNORECASE)


def parse_score(text: str) -> tuple[float, str] | None:
    """(score, reason) from the judge's answer: the rubric's JSON object, or a
    ``"score": 7`` / ``评分：7`` line; None when there is no score from 1 to 10."""
    found = first_json_object(text)
    reason = ""
    value: Any = None
    if found is not None and "score" in found:
        value = found["score"]
        reason = str(found.get("reason", "")).strip()
    else:
        match = SCORE_FALLBACK.search(text)
        value = match.group(1) if match else None
    try:
        score = float(value) if not isinstance(value, bool) and value is not None else None
    except (TypeError, ValueError):
        score = None
    if score is None or not SCORE_RANGE[0] <= score <= SCORE_RANGE[1]:
        return None
    return score, reason


def sound_score(record: Mapping[str, Any]) -> bool:
    """A cached judgement with a usable score and reason."""
    score = record.get("score")
    return (
        isinstance(score, (int, float))
        and not isinstance(score, bool)
        and SCORE_RANGE[0] <= score <= SCORE_RANGE[1]
        and isinstance(record.get("reason", ""), str)
    )


@dataclass(frozen=True)
class LlmJudged:
    metrics: Mapping[str, float]
    per_item: Mapping[str, Mapping[str, Any]]
    protocol: Mapping[str, Any]
    notes: tuple[str, ...]
    timings: Mapping[str, float]


def judge_pointwise(
    ids: Sequence[str],
    captions: Mapping[str, str],
    references: Mapping[str, Sequence[str]],
    load_images: Callable[[Sequence[str]], list[Image.Image]],
    dataset_fingerprint: str,
    settings: ChatJudgeSettings,
    cache_directory: Path,
    progress: Progress,
) -> LlmJudged:
    """Each image's caption scored by the judge; the metric is the mean score (1-10)."""
    started = time.perf_counter()
    rubric = load_rubric(RUBRIC)
    cache = judgement_cache(cache_directory, "pointwise", settings, rubric, sound_score)
    done = cache.load()
    keys = {i: item_key(dataset_fingerprint, i, captions[i], list(references[i])) for i in ids}
    todo = [i for i in ids if keys[i] not in done]
    judge = ChatJudge(settings, parse_score)
    batch = 4 * settings.concurrency
    with progress.bar(len(todo), "llm judge", "caption") as bar:
        for start in range(0, len(todo), batch):
            chunk = todo[start : start + batch]
            images = load_images(chunk)
            questions = [
                Question(
                    f"image {i}",
                    image,
                    rubric.render(caption=captions[i] or "（空）", references=numbered(references[i])),
                )
                for i, image in zip(chunk, images, strict=True)
            ]
            answers = judge.ask(questions)
            records: list[dict[str, Any]] = [
                {"key": keys[i], "image_id": i, "score": a.parsed[0], "reason": a.parsed[1], "attempts": a.attempts}
                for i, a in zip(chunk, answers, strict=True)
            ]
            cache.append(records)
            done.update({str(r["key"]): r for r in records})
            bar.update(len(chunk))
    scores = {i: float(done[keys[i]]["score"]) for i in ids}
    per_item = {i: {"llm_judge": scores[i], "llm_judge_reason": str(done[keys[i]].get("reason", ""))} for i in ids}
    mean = sum(scores.values()) / len(ids) if ids else 0.0
    protocol = {
        **settings.recorded(),
        "rubric": RUBRIC,
        "rubric_sha256": rubric.sha256,
        "score": "integer 1-10 per caption (the image, the caption and the references shown), mean over images",
        "cache": str(cache.path),
    }
    note = (
        f"llm_judge is the mean score of the judge model {settings.model!r} ({settings.base_url.rstrip('/')}) "
        f"with rubric {RUBRIC} (sha256 {rubric.sha256[:12]}...): it depends on the judge and the rubric, and is "
        "comparable only between runs judged by the same model with the same rubric"
    )
    reused = len(ids) - len(todo)
    notes = [note] + ([f"{reused} judgement(s) reused from {cache.path}"] if reused else [])
    return LlmJudged(
        {"llm_judge": mean}, per_item, protocol, tuple(notes), {"llm_judge_s": time.perf_counter() - started}
    )
