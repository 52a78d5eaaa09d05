"""A caption arena: two or more runs' captions of the same images judged in pairs by a
chat judge (``rubrics/pairwise_zh.txt``), in both orders to cancel position bias, rated by
Bradley-Terry on the Elo scale with bootstrap intervals over images.

Identical captions are a tie without asking. Every answer is cached by what was shown (the
image, both captions in their order, the references), so adding a run to an arena asks
only for the new pairs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from PIL import Image

from muge_eval.arena import ArenaDocument, ArenaPair, ArenaRating, ArenaRun, PositionBias
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
from muge_eval.metrics.bootstrap import CONFIDENCE
from muge_eval.metrics.pairwise import DEFAULT_PRIOR, Judgement, rate
from muge_eval.progress import Progress
from muge_eval.version import __version__

RUBRIC = "pairwise_zh.txt"
WINNER_FALLBACK = re.compile(r"(?:winner|胜者|更好的是)[\"”]?\s*[:：]\s*[\"“]?(A|B|tie|平局)", re.IGNORECASE)
WINNERS = {"a": "A", "b": "B", "tie": "tie", "平局": "tie", "draw": "tie"}
FIRST, SECOND, TIE = "A", "B", "tie"


def parse_winner(text: str) -> tuple[str, str] | None:
    """("A" | "B" | "tie", reason) from the judge's answer, or None."""
    found = first_json_object(text)
    if found is not None and "winner" in found:
        winner = WINNERS.get(str(found["winner"]).strip().lower())
        return (winner, str(found.get("reason", "")).strip()) if winner else None
    match = WINNER_FALLBACK.search(text)
    return (WINNERS[match.group(1).lower()], "") if match else None


def sound_winner(record: Mapping[str, Any]) -> bool:
    """A cached judgement naming a winner (or a tie) with a reason."""
    return record.get("winner") in (FIRST, SECOND, TIE) and isinstance(record.get("reason", ""), str)


@dataclass(frozen=True)
class ArenaEntry:
    """One run in the arena: its name, where its outputs came from, its captions."""

    name: str
    results: str
    model_fingerprint: str | None
    captions: Mapping[str, str]


@dataclass(frozen=True)
class PairJudgement:
    image_id: str
    first: int  # entry shown as A
    second: int  # entry shown as B
    winner: str  # "A", "B" or "tie"
    reason: str
    asked: bool  # False: identical captions, a tie without asking

    def score_of_first(self) -> float:
        return {FIRST: 1.0, SECOND: 0.0}.get(self.winner, 0.5)


def judge_pairs(
    ids: Sequence[str],
    entries: Sequence[ArenaEntry],
    references: Mapping[str, Sequence[str]],
    load_images: Callable[[Sequence[str]], list[Image.Image]],
    dataset_fingerprint: str,
    settings: ChatJudgeSettings,
    cache_directory: Path,
    progress: Progress,
) -> tuple[list[PairJudgement], int]:
    """Every ordered pair of entries on every image; and how many answers came from the cache."""
    rubric = load_rubric(RUBRIC)
    cache = judgement_cache(cache_directory, "pairwise", settings, rubric, sound_winner)
    done = cache.load()
    judge = ChatJudge(settings, parse_winner)
    orders = [(a, b) for a, b in itertools.permutations(range(len(entries)), 2)]
    results: list[PairJudgement] = []
    reused = 0
    images_per_batch = max(1, 4 * settings.concurrency // len(orders))
    with progress.bar(len(ids) * len(orders), "arena", "judgement") as bar:
        for start in range(0, len(ids), images_per_batch):
            chunk = list(ids[start : start + images_per_batch])
            wanted: list[tuple[str, int, int, str]] = []
            for image_id in chunk:
                refs = list(references[image_id])
                for a, b in orders:
                    first, second = entries[a].captions[image_id], entries[b].captions[image_id]
                    if first == second:
                        results.append(PairJudgement(image_id, a, b, TIE, "identical captions", False))
                        continue
                    key = item_key(dataset_fingerprint, image_id, first, second, refs)
                    if key in done:
                        reused += 1
                        record = done[key]
                        results.append(PairJudgement(image_id, a, b, record["winner"], record["reason"], True))
                    else:
                        wanted.append((image_id, a, b, key))
            if wanted:
                needed = list(dict.fromkeys(w[0] for w in wanted))
                images = dict(zip(needed, load_images(needed), strict=True))
                questions = [
                    Question(
                        f"image {image_id} ({entries[a].name} vs {entries[b].name})",
                        images[image_id],
                        rubric.render(
                            references=numbered(references[image_id]),
                            caption_a=entries[a].captions[image_id] or "（空）",
                            caption_b=entries[b].captions[image_id] or "（空）",
                        ),
                    )
                    for image_id, a, b, _ in wanted
                ]
                answers = judge.ask(questions)
                records = [
                    {"key": key, "image_id": image_id, "winner": answer.parsed[0], "reason": answer.parsed[1]}
                    for (image_id, _, _, key), answer in zip(wanted, answers, strict=True)
                ]
                cache.append(records)
                for (image_id, a, b, key), record in zip(wanted, records, strict=True):
                    done[key] = record
                    results.append(PairJudgement(image_id, a, b, record["winner"], record["reason"], True))
            bar.update(len(chunk) * len(orders))
    order = {image_id: position for position, image_id in enumerate(ids)}
    results.sort(key=lambda j: (order[j.image_id], j.first, j.second))
    return results, reused


PairRecord = tuple[int, int, int, int, int, float]


def _records(judgements: Sequence[PairJudgement], count: int) -> tuple[list[PairRecord], list[dict[str, int]]]:
    """Per pair of entries (a < b): a's wins, b's wins, ties, a's share; per entry: its record."""
    per_model = [{"wins": 0, "losses": 0, "ties": 0} for _ in range(count)]
    pairs: list[PairRecord] = []
    for a, b in itertools.combinations(range(count), 2):
        a_wins = b_wins = ties = 0
        for j in judgements:
            if {j.first, j.second} != {a, b}:
                continue
            score = j.score_of_first() if j.first == a else 1.0 - j.score_of_first()
            a_wins += score == 1.0
            b_wins += score == 0.0
            ties += score == 0.5
        total = a_wins + b_wins + ties
        pairs.append((a, b, a_wins, b_wins, ties, (a_wins + ties / 2) / total if total else 0.5))
        per_model[a]["wins"] += a_wins
        per_model[a]["losses"] += b_wins
        per_model[b]["wins"] += b_wins
        per_model[b]["losses"] += a_wins
        per_model[a]["ties"] += ties
        per_model[b]["ties"] += ties
    return pairs, per_model


def build_arena(
    ids: Sequence[str],
    entries: Sequence[ArenaEntry],
    judgements: Sequence[PairJudgement],
    task: Mapping[str, Any],
    dataset: Mapping[str, Any],
    settings: ChatJudgeSettings,
    resamples: int,
    seed: int,
    prior: float = DEFAULT_PRIOR,
    notes: Sequence[str] = (),
) -> ArenaDocument:
    """The arena document: ratings with intervals, pair records, position bias."""
    names = [e.name for e in entries]
    position = {image_id: row for row, image_id in enumerate(ids)}
    rated = rate(
        [Judgement(position[j.image_id], j.first, j.second, j.score_of_first()) for j in judgements],
        len(ids),
        len(entries),
        resamples,
        seed,
        prior,
    )
    pairs, per_model = _records(judgements, len(entries))
    ratings = tuple(
        ArenaRating(
            names[m],
            float(rated.ratings[m]),
            rated.intervals[m][0],
            rated.intervals[m][1],
            per_model[m]["wins"],
            per_model[m]["losses"],
            per_model[m]["ties"],
            sum(per_model[m].values()),
        )
        for m in range(len(entries))
    )
    asked = [j for j in judgements if j.asked]
    bias = PositionBias(
        sum(j.winner == FIRST for j in asked),
        sum(j.winner == SECOND for j in asked),
        sum(j.winner == TIE for j in asked),
    )
    rubric = load_rubric(RUBRIC)
    judge = {**settings.recorded(), "rubric": RUBRIC, "rubric_sha256": rubric.sha256}
    method = {
        "rating": "Bradley-Terry maximum likelihood (MM algorithm), Elo scale: 400 log10(strength), mean 1000",
        "ties": "half a win to each side; identical captions are a tie without asking the judge",
        "prior": prior,
        "orders": "every pair judged in both orders (A/B and B/A) on every image",
        "bootstrap": {"resamples": resamples, "seed": seed, "confidence": CONFIDENCE, "unit": "images"},
    }
    all_notes = [
        f"ratings depend on the judge model {settings.model!r} and the rubric {RUBRIC} "
        f"(sha256 {rubric.sha256[:12]}...): compare only arenas judged the same way",
        *notes,
    ]
    return ArenaDocument(
        task=task,
        dataset=dataset,
        runs=tuple(ArenaRun(e.name, e.results, e.model_fingerprint) for e in entries),
        judge=judge,
        method=method,
        ratings=ratings,
        pairs=tuple(ArenaPair(names[a], names[b], aw, bw, t, share) for a, b, aw, bw, t, share in pairs),
        position_bias=bias,
        created_at=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        toolkit={"name": "muge-eval", "version": __version__},
        notes=tuple(all_notes),
    )


def judgement_lines(judgements: Sequence[PairJudgement], entries: Sequence[ArenaEntry]) -> list[dict[str, Any]]:
    """One record per judgement for ``judgements.jsonl`` (the judge's reasons kept)."""
    names = [e.name for e in entries]
    return [
        {
            "image_id": j.image_id,
            "a": names[j.first],
            "b": names[j.second],
            "winner": names[j.first] if j.winner == FIRST else names[j.second] if j.winner == SECOND else "tie",
            "reason": j.reason,
            "asked": j.asked,
        }
        for j in judgements
    ]
