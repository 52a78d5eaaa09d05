"""Shared CLI plumbing: error handling, exit codes and options used by several commands."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import click

from muge_eval.errors import MugeEvalError
from muge_eval.io.atomic import describe_os_error
from muge_eval.plugins import Registries, build_registries

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2


class MugeGroup(click.Group):
    """Turns a user's mistake into one message on stderr and an exit code, no traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MugeEvalError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:  # a fault of the machine (full disk, a path too long), not a bug
            click.echo(f"error: {describe_os_error(exc)}", err=True)
            sys.exit(EXIT_INVALID_INPUT)


def tasks_dir_option(func: F) -> F:
    return click.option(
        "--tasks-dir",
        "tasks_dirs",
        multiple=True,
        type=click.Path(file_okay=False, path_type=Path),
        help="Extra directory of task cards (*.yaml); may be repeated.",
    )(func)


def registries_for(tasks_dirs: tuple[Path, ...]) -> Registries:
    for directory in tasks_dirs:
        if not directory.is_dir():
            raise click.BadParameter(f"{directory} is not a directory", param_hint="--tasks-dir")
    return build_registries(tasks_dirs)


def quiet_flag(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("quiet"))


@dataclass(frozen=True)
class TaskOptionFlag:
    """A named CLI flag that becomes a task option (``--tokenizer jieba`` -> ``tokenizer``).

    ``--task-args k=v`` reaches the same options; a flag is the documented spelling.
    """

    flag: str
    option: str
    help: str


# One line per task-type option that deserves its own flag on `run`, `score` and `validate`.
TASK_OPTION_FLAGS: tuple[TaskOptionFlag, ...] = (
    TaskOptionFlag("--inception-weights", "inception_weights", "t2i: path of pt_inception-2015-12-05-6726825d.pth."),
    TaskOptionFlag("--judge", "judge", "t2i: retrieval model that judges clip_score and r_precision."),
    TaskOptionFlag("--judge-args", "judge_args", "t2i: the judge's options as k=v,k2=v2."),
    TaskOptionFlag("--image-size", "image_size", "t2i: expected submission image size (N, WxH or any)."),
    TaskOptionFlag("--tokenizer", "tokenizer", "Caption tokenizer: char (MUGE default), jieba, whitespace."),
    TaskOptionFlag(
        "--metrics",
        "metrics",
        "Caption metrics, comma-separated (default bleu1,bleu2,bleu3,bleu4,rouge_l,cider_d; meteor on request).",
    ),
)


def task_option_flags(func: F) -> F:
    for spec in reversed(TASK_OPTION_FLAGS):
        func = click.option(spec.flag, f"flag_{spec.option}", default=None, help=spec.help)(func)
    return func


def collect_task_options(task_args: str, flags: dict[str, Any]) -> dict[str, str]:
    """Options from ``--task-args`` and the named flags; a flag wins over the same key."""
    from muge_eval.models.args import parse_key_values

    options = parse_key_values(task_args, "--task-args")
    for spec in TASK_OPTION_FLAGS:
        value = flags.get(f"flag_{spec.option}")
        if value is not None:
            options[spec.option] = value
    return options
