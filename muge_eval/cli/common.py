"""Shared CLI plumbing: error handling, exit codes, lazy commands, and the options that
several commands take. Imports only click and light modules: `muge-eval --help` must not
load numpy, jsonschema or the progress bars."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from muge_eval.errors import MugeEvalError
from muge_eval.io.atomic import describe_os_error

if TYPE_CHECKING:
    from muge_eval.plugins import Registries

F = TypeVar("F", bound=Callable[..., Any])

EXIT_OK = 0
EXIT_INVALID_INPUT = 1
EXIT_USAGE = 2


class MugeGroup(click.Group):
    """A group of lazily imported commands that turns a user's mistake into one message on
    stderr and an exit code, no traceback.

    ``lazy_commands`` maps a command name to ``(import path, one-line help)``: the help
    listing is printed from these strings, so ``--help`` imports no command module.
    """

    def __init__(self, *args: Any, lazy_commands: Mapping[str, tuple[str, str]] | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.lazy_commands = dict(lazy_commands or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy_commands:
            module_name, _, attr = self.lazy_commands[cmd_name][0].partition(":")
            command = getattr(importlib.import_module(module_name), attr)
            assert isinstance(command, click.Command)
            return command
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, self.lazy_commands[name][1]) for name in sorted(self.lazy_commands)]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

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
    from muge_eval.plugins import build_registries

    for directory in tasks_dirs:
        if not directory.is_dir():
            raise click.BadParameter(f"{directory} is not a directory", param_hint="--tasks-dir")
    return build_registries(tasks_dirs)


def quiet_flag(ctx: click.Context) -> bool:
    root = ctx.find_root()
    return bool(root.obj and root.obj.get("quiet"))
