"""``muge-eval regress``: fail a CI job when a run's metrics fall below a golden file's."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import click

from muge_eval.io.atomic import output_errors
from muge_eval.regress.compare import compare_results
from muge_eval.regress.report import markdown_table, summary, text_table
from muge_eval.regress.tolerance import parse_tolerances

F = TypeVar("F", bound=Callable[..., Any])

EXIT_REGRESSED = 1
EXIT_NOT_COMPARABLE = 3


def regression_options(func: F) -> F:
    """--tolerance, --fail-on-improvement and --summary, shared by ``regress`` and ``run``."""
    func = click.option(
        "--summary",
        "summary_path",
        type=click.Path(dir_okay=False, path_type=Path),
        default=None,
        help="Also append the table as Markdown to this file (e.g. $GITHUB_STEP_SUMMARY).",
    )(func)
    func = click.option(
        "--fail-on-improvement",
        is_flag=True,
        help="Fail on any change beyond tolerance, better or worse (the golden file must be updated).",
    )(func)
    func = click.option(
        "--tolerance",
        "tolerances",
        multiple=True,
        metavar="SPEC",
        help="Allowed absolute change: a number for every metric (default 0) and/or metric=number, "
        "comma-separated, e.g. 0.01,cider_d=0.5.",
    )(func)
    return func


def check_against_golden(
    expected: Mapping[str, Any],
    actual: Mapping[str, Any],
    tolerances: tuple[str, ...],
    fail_on_improvement: bool,
    summary_path: Path | None,
) -> int:
    """Print the comparison and return the exit code (0 pass, 1 regression, 3 not comparable)."""
    from muge_eval.tasktypes.catalog import TaskTypeCatalog

    task_type = str(expected["task"]["type"])
    identity_keys = TaskTypeCatalog().identity_keys(task_type)
    if identity_keys is None:
        click.echo(f"warning: task type {task_type!r} is not installed: protocol differences only warn", err=True)
    comparison = compare_results(
        expected, actual, parse_tolerances(tolerances), fail_on_improvement, identity_keys or ()
    )
    click.echo(text_table(comparison))
    for warning in comparison.warnings:
        click.echo(f"warning: {warning}", err=True)
    verdict = summary(comparison)
    click.echo(verdict, err=not comparison.passed)
    if summary_path is not None:
        with output_errors(summary_path), summary_path.open("a", encoding="utf-8") as handle:
            handle.write(f"### muge-eval regress: {expected['task']['name']}\n\n{markdown_table(comparison)}\n\n")
            handle.write(f"{verdict}\n\n")
    if comparison.mismatches:
        return EXIT_NOT_COMPARABLE
    return 0 if comparison.passed else EXIT_REGRESSED


@click.command("regress")
@click.option("--expected", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Golden results file.")
@click.option("--actual", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Results to check.")
@regression_options
def regress_command(
    expected: Path, actual: Path, tolerances: tuple[str, ...], fail_on_improvement: bool, summary_path: Path | None
) -> None:
    """Compare results with a golden results file, metric by metric.

    Exit status: 0 when no metric is worse than expected by more than its tolerance, 1 on
    a regression (or a missing metric), 3 when the files are not comparable (another
    task, task version, split, dataset fingerprint, --limit, or a protocol setting its task
    type declares identity-defining, such as caption's tokenizer).

    \b
    Examples:
      muge-eval regress --expected golden.json --actual muge-results/t/m/results.json
      muge-eval regress --expected golden.json --actual results.json --tolerance 0.01,cider_d=0.5
    """
    from muge_eval.plugins import task_type_registry
    from muge_eval.results import read_results

    registered = task_type_registry().names()
    code = check_against_golden(
        read_results(expected, registered),
        read_results(actual, registered),
        tolerances,
        fail_on_improvement,
        summary_path,
    )
    sys.exit(code)
