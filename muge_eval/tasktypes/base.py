"""The task-type seam: everything muge-eval knows about a kind of task, in one class.

A task type declares what cards of its type may say (data formats, directions, options),
what its adapters must do (the adapter protocol), which generic run options it honours,
its submission formats (and the Tianchi-style output object), its metrics as specs (with
the per-item fields behind them), and which protocol keys make two runs incomparable. The
card loader, the results writer, the CLI, the leaderboard and ``regress`` ask the type;
nothing else keeps a list of task types. Register a new type with one entry (built-in:
``muge_eval.plugins.BUILTIN_TASK_TYPES``; third party: the ``muge_eval.task_types``
entry-point group).

Subclasses implement ``load_gold``, ``read_submission``, ``_score`` and ``_evaluate``;
the public ``score`` and ``evaluate`` wrap them with what every type shares: the card's
metric selection, third-party metrics, ``metric_info`` from the specs, the main metric.
"""

from __future__ import annotations

import dataclasses
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from muge_eval.cards import TaskCard
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.metrics.compute import compute_plugin_metric
from muge_eval.metrics.spec import MetricSpec
from muge_eval.models.base import ModelAdapter, as_adapter
from muge_eval.progress import Progress
from muge_eval.specs import RUN_FEATURES, RunConfig, TaskOutcome
from muge_eval.tasktypes.options import TaskOption, as_list, as_str, resolve_options

if TYPE_CHECKING:
    from muge_eval.plugins import Registries


@dataclass(frozen=True)
class SubmissionFormat:
    """A file format a task type reads as a submission and writes as predictions."""

    name: str
    file: str
    description: str
    directions: tuple[str, ...] = ()


# Options every task type takes (a card sets metrics with its top-level `metrics:` key).
COMMON_OPTIONS = (
    TaskOption(
        "metrics",
        "metrics to compute and report, comma-separated (default: the card's `metrics:`)",
        as_list,
        flag="--metrics",
        card=False,
    ),
    TaskOption("main_metric", "the metric that ranks (default: the card's `main_metric:`)", as_str, card=False),
)


class TaskType(ABC):
    """One kind of task. Instances are built per run from a card and the user's options."""

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    # What a model adapter must declare in `capabilities` to be evaluated on this type, and
    # the protocol base class(es) it must subclass, or whose required methods a duck-typed
    # adapter must have (the first protocol).
    capability: ClassVar[str]
    adapter_protocols: ClassVar[tuple[type[ModelAdapter], ...]]
    # Values a card's data.format may take, and the directions a card may list (the first
    # is the default).
    data_formats: ClassVar[tuple[str, ...]] = ()
    directions: ClassVar[tuple[str, ...]] = ()
    options: ClassVar[tuple[TaskOption, ...]] = ()
    # Generic run options (see specs.RUN_FEATURES) this type honours; others are refused.
    run_features: ClassVar[frozenset[str]] = frozenset()
    submission_formats: ClassVar[tuple[SubmissionFormat, ...]] = ()
    # Protocol keys (dotted, prefixes of the flattened protocol) whose difference makes two
    # runs incomparable for `regress`.
    identity_protocol_keys: ClassVar[tuple[str, ...]] = ()
    # The field that identifies an item in the per-item records (pairs two runs' samples).
    item_key: ClassVar[str] = "id"
    # Whether `score --format tianchi` applies (MUGE's scorer output object).
    tianchi: ClassVar[bool] = False

    def __init__(self, card: TaskCard, options: Mapping[str, Any] | None = None, registries: Registries | None = None):
        self.card = card
        self._registries = registries
        file = str(card.path) if card.path else card.name
        problems = self.card_problems(card, file)
        if problems:
            raise InputError(problems, "invalid task card")
        self.settings = resolve_options(
            (*COMMON_OPTIONS, *self.options), card.options, dict(options or {}), card.name, file
        )
        self.run_directions: tuple[str, ...] = card.directions or self.directions[:1]
        self.selected_metrics = self._select_metrics()
        self.main_metric = self._choose_main_metric()

    # --- declarations --------------------------------------------------------------
    @classmethod
    @abstractmethod
    def metric_specs(cls) -> tuple[MetricSpec, ...]:
        """Every metric this type computes itself, by the name it reports."""

    @classmethod
    def default_metrics(cls) -> tuple[str, ...]:
        """What a card without `metrics:` reports."""
        return tuple(spec.name for spec in cls.metric_specs())

    @classmethod
    def option_flags(cls) -> tuple[TaskOption, ...]:
        """The options that have their own command-line flag."""
        return tuple(o for o in (*COMMON_OPTIONS, *cls.options) if o.flag and o.user)

    @classmethod
    def card_problems(cls, card: TaskCard, file: str) -> list[Problem]:
        """What is wrong with a card of this type (the generic checks ran when it was read)."""
        problems: list[Problem] = []
        if cls.data_formats and card.data.format not in cls.data_formats:
            problems.append(Problem(file, f"must be one of {', '.join(cls.data_formats)}", None, "data.format"))
        bad = [d for d in card.directions if d not in cls.directions]
        if bad:
            allowed = ", ".join(cls.directions) or "none"
            problems.append(Problem(file, f"{cls.name} tasks rank {allowed}, not {', '.join(bad)}", None, "directions"))
        return problems

    # --- registries ----------------------------------------------------------------
    @property
    def registries(self) -> Registries:
        if self._registries is None:
            from muge_eval.plugins import build_registries

            self._registries = build_registries()
        return self._registries

    # --- metrics -------------------------------------------------------------------
    def concrete_metric_names(self, names: Sequence[str]) -> tuple[str, ...]:
        """The reported names of selected metrics (a type may expand one name, e.g. per
        ranking direction)."""
        return tuple(names)

    def _own_specs(self) -> dict[str, MetricSpec]:
        return {spec.name: spec for spec in self.metric_specs()}

    def _select_metrics(self) -> tuple[str, ...]:
        chosen = self.settings["metrics"] or self.card.metrics or self.default_metrics()
        file = str(self.card.path) if self.card.path else self.card.name
        selectable = set(self._own_specs()) | set(self._base_names())
        unknown = []
        self._plugin_specs: dict[str, MetricSpec] = {}
        for name in chosen:
            if name in selectable:
                continue
            spec = self._plugin_spec(name)
            if spec is None:
                unknown.append(name)
            else:
                self._plugin_specs[name] = spec
        if unknown:
            available = ", ".join(sorted(selectable | set(self._applicable_plugins())))
            message = f"unknown {self.name} metric(s) {', '.join(unknown)} (available: {available})"
            if self.settings["metrics"]:
                raise UsageError(message)
            raise InputError([Problem(file, message, None, "metrics")], "invalid task card")
        return tuple(dict.fromkeys(chosen))

    def _base_names(self) -> tuple[str, ...]:
        """Names a card may select besides the reported ones (e.g. retrieval's ``r1`` for
        every direction)."""
        return ()

    def _plugin_spec(self, name: str) -> MetricSpec | None:
        if name not in self.registries.metrics:
            return None
        spec = self.registries.metrics.get(name)
        if not isinstance(spec, MetricSpec):
            raise UsageError(f"metric plugin {name!r} is not a MetricSpec ({type(spec).__name__})")
        if not spec.is_plugin or not spec.applies_to(self.name):
            return None
        return spec

    def _applicable_plugins(self) -> list[str]:
        names = []
        for name in self.registries.metrics.names():
            try:
                if self._plugin_spec(name) is not None:
                    names.append(name)
            except UsageError:
                continue
        return names

    def _choose_main_metric(self) -> str:
        wanted = self.settings["main_metric"] or self.card.main_metric or self.selected_metrics[0]
        if wanted not in self.selected_metrics:
            if self.settings["main_metric"]:
                raise UsageError(f"main metric {wanted!r} is not among the selected metrics")
            wanted = self.selected_metrics[0]
        return self.concrete_metric_names([wanted])[0]

    def metric_spec(self, name: str) -> MetricSpec | None:
        """The spec of a reported metric."""
        return self._own_specs().get(name) or self._plugin_specs.get(name)

    def finish(self, outcome: TaskOutcome) -> TaskOutcome:
        """Keep the selected metrics (in the card's order), add third-party metrics
        computed from the per-item records, describe each from its spec."""
        if not outcome.metrics and not outcome.samples:
            return dataclasses.replace(outcome, main_metric=self.main_metric)
        own = self._own_specs()
        samples = [dict(s) for s in outcome.samples]
        metrics: dict[str, float] = {}
        info: dict[str, MetricSpec] = {}
        for name in self.selected_metrics:
            spec = self._plugin_specs.get(name)
            if spec is None:
                for concrete in self.concrete_metric_names([name]):
                    if concrete in outcome.metrics:
                        metrics[concrete] = outcome.metrics[concrete]
                        info[concrete] = own[concrete]
                continue
            if not samples:
                continue
            value, per_item = compute_plugin_metric(spec, samples)
            for position, item_value in per_item.items():
                samples[position][spec.name] = item_value
            metrics[name] = value
            info[name] = spec
        return dataclasses.replace(
            outcome,
            metrics=metrics,
            metric_info=info,
            main_metric=self.main_metric,
            samples=tuple(samples),
        )

    # --- adapters and run options --------------------------------------------------
    def adapter_defaults(self) -> dict[str, Any]:
        """Constructor arguments this task offers its adapters (as the run's seed and
        device): passed to an adapter whose constructor takes them and the user did not
        set them (caption: the card's ``instruction``)."""
        return {}

    def adapt(self, model: Any) -> ModelAdapter:
        """The model as this type's adapter protocol (duck-typed objects are wrapped)."""
        return as_adapter(model, self.adapter_protocols, self.capability)

    def check_run_config(self, config: RunConfig) -> None:
        """Refuse generic run options this type does not use (they would do nothing)."""
        for feature, used in config.features_used().items():
            if used and feature not in self.run_features:
                raise UsageError(f"{RUN_FEATURES[feature]} does not apply to {self.name} tasks ({self.card.name})")

    def check_split(self, split: str) -> None:
        if split not in self.card.splits:
            raise UsageError(f"task {self.card.name!r} has no split {split!r} (splits: {', '.join(self.card.splits)})")

    def data_dir(self, override: Path | None) -> Path | None:
        return override if override is not None else self.card.data_location()

    def require_data_dir(self, override: Path | None) -> Path:
        directory = self.data_dir(override)
        if directory is None:
            raise UsageError(f"task {self.card.name!r} has no bundled data: pass --data-dir (or --gold to score)")
        return directory

    def check_ready(self, config: RunConfig) -> None:
        """Checks that can fail before any model is loaded: split, options, data present."""
        self.check_split(config.split)
        self.check_run_config(config)

    # --- submissions ---------------------------------------------------------------
    @abstractmethod
    def load_gold(self, split: str, data_dir: Path | None, gold_path: Path | None, direction: str | None) -> Any:
        """Gold data for scoring, from ``gold_path`` or the task's data for ``split``."""

    @abstractmethod
    def read_submission(self, gold: Any, path: Path, direction: str | None) -> Any:
        """Parse and check a submission; raise InputError listing every problem."""

    @abstractmethod
    def _score(self, gold: Any, submission: Any) -> TaskOutcome:
        """Every metric this type computes, for a checked submission."""

    @abstractmethod
    def _evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        """Run the (adapted) model on the task's data and score its predictions."""

    def score(self, gold: Any, submission: Any) -> TaskOutcome:
        """The selected metrics of a checked submission."""
        return self.finish(self._score(gold, submission))

    def evaluate(self, model: Any, config: RunConfig, progress: Progress) -> TaskOutcome:
        """Run ``model`` on the task's data; the selected metrics of its predictions."""
        self.check_ready(config)
        return self.finish(self._evaluate(self.adapt(model), config, progress))

    def tianchi_success(self, metrics: Mapping[str, float]) -> dict[str, Any]:
        """A Tianchi-style output object: the main metric as ``score`` plus every metric."""
        if not self.tianchi:
            raise UsageError(f"--format tianchi is MUGE's scorer output; {self.name} tasks have none")
        main = metrics[self.main_metric]
        return {"success": True, "score": main, "scoreJson": {"score": main, **metrics}}

    @staticmethod
    def tianchi_failure(message: str) -> dict[str, Any]:
        """The Tianchi-style output object of a refused submission."""
        return {"errorDetail": message, "errorMsg": message, "score": 0, "scoreJson": {}, "success": False}
