"""Task options: declared by a task type, set by a card's ``options:`` and then by the user.

One rule for every type: the card's value first, the user's (``--task-args k=v`` or the
option's own flag) over it, each parsed and checked by the option's declaration. An option
a type does not declare is an error naming where it came from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, UsageError, brief

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})

Parser = Callable[[Any], Any]


@dataclass(frozen=True)
class TaskOption:
    """One option of a task type.

    ``parse`` turns a card value (any YAML scalar or list) or a command-line string into
    the typed value, raising ``ValueError`` with a reason when it cannot. ``flag`` is the
    option's own command-line flag (``--tokenizer``); every option is also reachable as
    ``--task-args name=value``. ``card`` / ``user`` say who may set it.
    """

    name: str
    help: str
    parse: Parser = str
    default: Any = None
    flag: str | None = None
    card: bool = True
    user: bool = True

    def __post_init__(self) -> None:
        if self.flag is not None and not self.flag.startswith("--"):
            raise ValueError(f"option {self.name}: flag {self.flag!r} must start with --")


# --- parsers ---------------------------------------------------------------------------
def as_str(value: Any) -> str:
    if isinstance(value, (dict, list)):
        raise ValueError("must be a single value")
    return str(value)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError("must be true or false")


def as_positive_int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("must be a positive integer")
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ValueError("must be a positive integer") from None
    if number < 1:
        raise ValueError("must be a positive integer")
    return number


def as_path(value: Any) -> Path:
    return Path(as_str(value)).expanduser()


def as_list(value: Any) -> tuple[str, ...]:
    """A YAML list or a comma-separated string."""
    items = value if isinstance(value, (list, tuple)) else str(value).split(",")
    names = tuple(str(item).strip() for item in items if str(item).strip())
    if not names:
        raise ValueError("must name at least one item")
    return names


def one_of(*choices: str) -> Parser:
    def parse(value: Any) -> str:
        text = as_str(value)
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}")
        return text

    return parse


def judge_options(metrics: str) -> tuple[TaskOption, TaskOption]:
    """``--judge`` and ``--judge-args``: a retrieval model that judges text-image agreement
    (``metrics`` names what it judges). Task types that take a judge share these options,
    so the flags mean the same everywhere."""
    return (
        TaskOption(
            "judge", f"retrieval model for {metrics} (any `muge-eval models` retrieval adapter)", as_str, flag="--judge"
        ),
        TaskOption("judge_args", "the judge's arguments, k=v,k2=v2", as_str, "", flag="--judge-args"),
    )


# --- resolution ------------------------------------------------------------------------
def _parse(option: TaskOption, value: Any) -> Any:
    return option.parse(value)


def resolve_options(
    declared: Sequence[TaskOption],
    card_values: Mapping[str, Any],
    user_values: Mapping[str, Any],
    card_name: str,
    card_file: str,
) -> dict[str, Any]:
    """Every declared option's value: default, then the card's, then the user's."""
    by_name = {option.name: option for option in declared}
    problems = []
    for name in sorted(set(card_values) - set(by_name)):
        problems.append(
            Problem(
                card_file, f"unknown option (known: {', '.join(sorted(by_name)) or 'none'})", None, f"options.{name}"
            )
        )
    resolved: dict[str, Any] = {option.name: option.default for option in declared}
    for name, value in card_values.items():
        option = by_name.get(name)
        if option is None:
            continue
        if not option.card:
            problems.append(Problem(card_file, "is set by the user, not by a card", None, f"options.{name}"))
            continue
        try:
            resolved[name] = _parse(option, value)
        except ValueError as exc:
            problems.append(Problem(card_file, f"{brief(value)} {exc}", None, f"options.{name}"))
    if problems:
        raise InputError(problems, "invalid task card")
    unknown = sorted(set(user_values) - {n for n, o in by_name.items() if o.user})
    if unknown:
        accepted = ", ".join(sorted(n for n, o in by_name.items() if o.user)) or "none"
        raise UsageError(f"task {card_name!r} does not take option(s) {', '.join(unknown)} (accepted: {accepted})")
    for name, value in user_values.items():
        option = by_name[name]
        try:
            resolved[name] = _parse(option, value)
        except ValueError as exc:
            spelled = option.flag or f"--task-args {name}="
            raise UsageError(f"{spelled} {value!r}: {exc}") from exc
    return resolved
