"""The records of the registry of published results (frozen, read-only).

A ``PublishedResult`` is one row of one table of one source: a model's R@1/R@5/R@10 and
mean recall (percent) on one task card's split, in one direction, zero-shot or
fine-tuned, with where it was published and, as far as the source states it, how it was
measured (``protocol``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

DIRECTIONS = ("text_to_image", "image_to_text", "both")
DIRECTION_SHORT = {"text_to_image": "t2i", "image_to_text": "i2t", "both": "both"}
SETTINGS = ("zero-shot", "fine-tuned")
METRICS = ("r1", "r5", "r10", "mean_recall")
SOURCE_KINDS = ("repository-file", "documentation", "paper")
MEASURED_BY = ("authors", "independent")
# Protocol keys a source may state (everything else in ``protocol`` is kept as given).
PROTOCOL_KEYS = (
    "pipeline",
    "preprocess",
    "resolution",
    "context_length",
    "text_preprocess",
    "precision",
    "jpeg_draft",
    "split",
)


@dataclass(frozen=True)
class Source:
    """Where numbers were published: a repository file at a commit, a documentation page,
    or a paper's table; ``measured_by`` says whether the model's authors measured them."""

    key: str
    title: str
    kind: str
    measured_by: str
    repository: str | None = None
    path: str | None = None
    commit: str | None = None
    url: str | None = None
    paper: str | None = None
    note: str = ""

    def citation(self) -> str:
        """One line naming the source precisely."""
        if self.repository and self.path:
            where = f"{self.repository}/{self.path}"
            return f"{where}@{self.commit[:12]}" if self.commit else where
        return self.url or self.paper or self.title


@dataclass(frozen=True)
class ModelInfo:
    """A published model, with what its sources say about it (None: not stated)."""

    key: str
    name: str
    family: str
    parameters: str | None = None
    vision: str | None = None
    text: str | None = None
    resolution: int | None = None
    open_weights: bool | None = None
    released: str | None = None
    # How to evaluate it with muge-eval: an adapter name and model arguments.
    adapter: str | None = None
    note: str = ""


@dataclass(frozen=True)
class PublishedResult:
    """One published row. ``metrics`` holds base names (``r1``...) in percent; for the
    direction ``both`` each is the mean of the two directions' values."""

    id: str
    model: ModelInfo
    task: str
    split: str
    direction: str
    setting: str
    metrics: Mapping[str, float]
    source: Source
    table: str
    decimals: int = 1
    protocol: Mapping[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def tolerance(self) -> float:
        """Half a unit of the last published decimal: the rounding a match allows."""
        return 0.5 * 10.0 ** (-self.decimals)

    def results_metrics(self) -> dict[str, float]:
        """The published values under the names a results file uses (``i2t_r1``...;
        ``both_mean_recall`` for the mean of the two directions)."""
        prefix = {"text_to_image": "", "image_to_text": "i2t_", "both": "both_"}[self.direction]
        return {prefix + name: value for name, value in self.metrics.items()}
