"""The arena document: pairwise judgements between runs, rated, as its own results file.

``muge-eval arena`` writes it (``arena.json``, validated against the shipped
``schemas/arena.schema.json`` and written atomically); a reader (the leaderboard) calls
``read_arena`` and gets frozen dataclasses, validated the same way. Ratings are
Bradley-Terry strengths on the Elo scale with percentile bootstrap intervals over the
judged items (see ``muge_eval.metrics.pairwise``); ``pairs`` and ``position_bias`` give the
raw counts behind them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem
from muge_eval.io.atomic import atomic_write_json
from muge_eval.io.json_schema import packaged_schema, violations
from muge_eval.io.jsonl import read_json_document

ARENA_SCHEMA_VERSION = "1.0"
ARENA_FILE = "arena.json"
JUDGEMENTS_FILE = "judgements.jsonl"


@dataclass(frozen=True)
class ArenaRun:
    name: str
    results: str
    model_fingerprint: str | None


@dataclass(frozen=True)
class ArenaRating:
    """One model's rating (Elo scale), its 95% interval, and its record."""

    model: str
    rating: float
    low: float
    high: float
    wins: int
    losses: int
    ties: int
    comparisons: int


@dataclass(frozen=True)
class ArenaPair:
    """Two models' record against each other (both orders counted)."""

    a: str
    b: str
    a_wins: int
    b_wins: int
    ties: int
    a_score: float


@dataclass(frozen=True)
class PositionBias:
    """How often the caption shown first won, across every judgement."""

    first_wins: int
    second_wins: int
    ties: int


@dataclass(frozen=True)
class ArenaDocument:
    task: Mapping[str, Any]
    dataset: Mapping[str, Any]
    runs: tuple[ArenaRun, ...]
    judge: Mapping[str, Any]
    method: Mapping[str, Any]
    ratings: tuple[ArenaRating, ...]
    pairs: tuple[ArenaPair, ...]
    position_bias: PositionBias
    created_at: str
    toolkit: Mapping[str, Any]
    files: Mapping[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()

    def ranked(self) -> tuple[ArenaRating, ...]:
        """Ratings best first."""
        return tuple(sorted(self.ratings, key=lambda r: (-r.rating, r.model.casefold())))

    def to_json(self) -> dict[str, Any]:
        document: dict[str, Any] = {
            "schema_version": ARENA_SCHEMA_VERSION,
            "kind": "arena",
            "toolkit": dict(self.toolkit),
            "task": dict(self.task),
            "dataset": dict(self.dataset),
            "runs": [asdict(r) for r in self.runs],
            "judge": dict(self.judge),
            "method": dict(self.method),
            "ratings": [asdict(r) for r in self.ratings],
            "pairs": [asdict(p) for p in self.pairs],
            "position_bias": asdict(self.position_bias),
            "created_at": self.created_at,
        }
        if self.files:
            document["files"] = dict(self.files)
        if self.notes:
            document["notes"] = list(self.notes)
        return document

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> ArenaDocument:
        """From a document that passed the schema."""
        return cls(
            task=document["task"],
            dataset=document["dataset"],
            runs=tuple(ArenaRun(**r) for r in document["runs"]),
            judge=document["judge"],
            method=document["method"],
            ratings=tuple(ArenaRating(**r) for r in document["ratings"]),
            pairs=tuple(ArenaPair(**p) for p in document["pairs"]),
            position_bias=PositionBias(**document["position_bias"]),
            created_at=document["created_at"],
            toolkit=document["toolkit"],
            files=document.get("files", {}),
            notes=tuple(document.get("notes", ())),
        )


def arena_problems(document: Any, file: str) -> list[Problem]:
    """Schema violations, and ratings or pairs naming models that are not among the runs."""
    problems = violations(packaged_schema("arena.schema.json"), document, file)
    if problems:
        return problems
    for number, rating in enumerate(document["ratings"]):
        if not all(math.isfinite(rating[k]) for k in ("rating", "low", "high")):
            problems.append(Problem(file, "ratings must be finite numbers", field=f"ratings/{number}"))
    names = [r["name"] for r in document["runs"]]
    if len(set(names)) != len(names):
        problems.append(Problem(file, "run names repeat", field="runs"))
    rated = [r["model"] for r in document["ratings"]]
    if sorted(rated) != sorted(names):
        problems.append(Problem(file, "ratings must name each run exactly once", field="ratings"))
    for number, pair in enumerate(document["pairs"]):
        if pair["a"] not in names or pair["b"] not in names or pair["a"] == pair["b"]:
            problems.append(Problem(file, "a pair must name two different runs", field=f"pairs/{number}"))
    for number, rating in enumerate(document["ratings"]):
        if not rating["low"] <= rating["high"]:
            problems.append(Problem(file, "low is above high", field=f"ratings/{number}"))
    return problems


def write_arena(path: Path, arena: ArenaDocument) -> None:
    """Validate and write atomically (no partial file on failure)."""
    document = arena.to_json()
    problems = arena_problems(document, str(path))
    if problems:
        raise InputError(problems, "invalid arena document")
    atomic_write_json(path, document)


def read_arena(path: Path) -> ArenaDocument:
    """An arena document, checked against the schema."""
    if not path.is_file():
        raise InputError([Problem(str(path), "arena file not found")], "missing file")
    document = read_json_document(path, "arena document", allow_constants=False)
    problems = arena_problems(document, str(path))
    if problems:
        raise InputError(problems, "invalid arena document")
    return ArenaDocument.from_json(document)
