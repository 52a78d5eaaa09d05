"""The interface every task type implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

from muge_eval.cards import TaskCard
from muge_eval.errors import UsageError
from muge_eval.models.base import ModelAdapter
from muge_eval.progress import Progress
from muge_eval.specs import RunConfig, TaskOutcome


class TaskType(ABC):
    """One kind of task. Instances are built per run from a card and user options."""

    type_name: ClassVar[str]
    # What a model adapter must declare in `capabilities` to be evaluated on this task.
    capability: ClassVar[str]
    # Options a user may pass (name -> one-line help); anything else is a usage error.
    accepted_options: ClassVar[Mapping[str, str]] = {}

    def __init__(self, card: TaskCard, options: Mapping[str, Any] | None = None):
        options = dict(options or {})
        unknown = sorted(set(options) - set(self.accepted_options))
        if unknown:
            accepted = ", ".join(sorted(self.accepted_options)) or "none"
            raise UsageError(f"task {card.name!r} does not take option(s) {', '.join(unknown)} (accepted: {accepted})")
        self.card = card
        self.options = options

    def data_dir(self, override: Path | None) -> Path | None:
        return override if override is not None else self.card.data_location()

    def check_split(self, split: str) -> None:
        if split not in self.card.splits:
            raise UsageError(f"task {self.card.name!r} has no split {split!r} (splits: {', '.join(self.card.splits)})")

    @abstractmethod
    def load_gold(self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None) -> Any:
        """Gold data for scoring, from ``gold_path`` or the task's data for ``split``."""

    @abstractmethod
    def read_submission(self, gold: Any, path: Path, direction: str | None) -> Any:
        """Parse and check a submission; raise InputError listing every problem."""

    @abstractmethod
    def score(self, gold: Any, submission: Any) -> TaskOutcome:
        """Metrics of a checked submission."""

    @abstractmethod
    def evaluate(self, model: ModelAdapter, config: RunConfig, progress: Progress) -> TaskOutcome:
        """Run ``model`` on the task's data and score its predictions."""
