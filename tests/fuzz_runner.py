"""Running fuzz cases through the CLI in process, and judging what a user sees: exit 1 or 2
(0 only where the change is harmless), never a traceback, a ``file:line: field:`` message
where one line is at fault, and an answer within ``CASE_SECONDS``."""

from __future__ import annotations

import functools
import time
import traceback
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner
from fuzz_targets import Case

import muge_eval.cli.common
from muge_eval.cli.main import main

CASE_SECONDS = 3.0  # generous for a loaded 2-core CI machine; most cases take milliseconds


@dataclass(frozen=True)
class Outcome:
    code: int
    output: str
    error: BaseException | None
    seconds: float


def cache_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    """The built-in cards are read once per test, not once per case: they are not what is
    fuzzed (a test that fuzzes cards reads a fresh card directory for every case)."""
    # Should the CLI stop reading the registries from there, the suite is slower, not broken.
    build = getattr(muge_eval.cli.common, "build_registries", None)
    if build is not None:
        monkeypatch.setattr(muge_eval.cli.common, "build_registries", functools.lru_cache(maxsize=4)(build))
    monkeypatch.setenv("MUGE_EVAL_INCEPTION_WEIGHTS", "")


def invoke(*args: str) -> Outcome:
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["--quiet", *args])
    seconds = time.perf_counter() - started
    error = result.exception if not isinstance(result.exception, SystemExit) else None
    return Outcome(result.exit_code, result.output, error, seconds)


def problems_of(case: Case, outcome: Outcome, file: Path, codes: Iterable[int] = (0, 1, 2)) -> list[str]:
    """What is wrong with how the CLI answered ``case`` (an empty list when all is well)."""
    found: list[str] = []
    if outcome.error is not None:
        trace = "".join(traceback.format_exception(outcome.error))
        return [f"{case.name}: raised {type(outcome.error).__name__}\n{trace[-1500:]}"]
    if "Traceback" in outcome.output:
        found.append("printed a traceback")
    if outcome.code not in codes:
        found.append(f"exit {outcome.code}")
    if case.must_fail and outcome.code == 0:
        found.append("accepted (exit 0)")
    if case.benign and outcome.code != 0:
        found.append(f"refused a harmless change (exit {outcome.code})")
    if case.must_fail and case.line is not None:
        where = f"{file}:{case.line}: " + (f"{case.field}: " if case.field else "")
        if where not in outcome.output:
            found.append(f"no {where!r} in the message")
    if outcome.seconds > CASE_SECONDS:
        found.append(f"took {outcome.seconds:.1f} s")
    return [f"{case.name}: {', '.join(found)}\n{outcome.output[-600:]}"] if found else []


def report(problems: list[str], cases: int) -> None:
    assert cases > 0
    assert not problems, f"{len(problems)} of {cases} cases mishandled:\n" + "\n".join(problems[:10])
