"""Error types that the CLI turns into one clear message and an exit code.

`InputError` carries every problem found in a user's file (file, line, field), so a user
fixes a submission in one pass instead of one error per run.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass, field
from typing import Any

# After this many problems the message gives a count of the rest.
MAX_LISTED_PROBLEMS = 20
# How much of a user's value a message quotes.
QUOTED_CHARACTERS = 60


def shorten(text: str, limit: int = QUOTED_CHARACTERS) -> str:
    """``text`` cut to at most ``limit`` characters, for quoting in a message."""
    return text if len(text) <= limit else text[: limit - 3] + "..."


def brief(value: Any) -> str:
    """``repr(value)`` cut short: a message quotes a user's value, never all of a huge one."""
    shortener = reprlib.Repr()
    shortener.maxstring = shortener.maxother = QUOTED_CHARACTERS
    shortener.maxlist = shortener.maxdict = 6
    shortener.maxlevel = 3
    return shortener.repr(value)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a user's input."""

    file: str
    message: str
    line: int | None = None
    field: str | None = None

    def format(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        what = f"{self.field}: " if self.field else ""
        return f"{where}: {what}{self.message}"


class MugeEvalError(Exception):
    """Base class of the errors a user can cause; the CLI prints them without a traceback."""

    exit_code = 1


class UsageError(MugeEvalError):
    """A wrong option, unknown name or impossible combination (exit code 2)."""

    exit_code = 2


class OutputError(MugeEvalError):
    """A file could not be written (a full disk, a read-only folder); the message names it."""

    exit_code = 1


class InputError(MugeEvalError):
    """Invalid input data: one or more problems, each naming file, line and field."""

    exit_code = 1

    def __init__(self, problems: list[Problem] | tuple[Problem, ...], title: str = "invalid input"):
        self.problems = tuple(problems)
        self.title = title
        super().__init__(self.format())

    def format(self) -> str:
        listed = [p.format() for p in self.problems[:MAX_LISTED_PROBLEMS]]
        rest = len(self.problems) - len(listed)
        lines = [f"{self.title}: {len(self.problems)} problem(s)"]
        lines += [f"  {line}" for line in listed]
        if rest > 0:
            lines.append(f"  ... and {rest} more problem(s)")
        return "\n".join(lines)


@dataclass
class ProblemList:
    """Collects problems while a file is read, then raises them all at once."""

    file: str
    problems: list[Problem] = field(default_factory=list)

    def add(self, message: str, line: int | None = None, field_name: str | None = None) -> None:
        self.problems.append(Problem(self.file, message, line, field_name))

    def __bool__(self) -> bool:
        return bool(self.problems)

    def raise_if_any(self, title: str = "invalid input") -> None:
        if self.problems:
            raise InputError(self.problems, title)
