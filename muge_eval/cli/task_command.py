"""Commands whose ``--task`` decides the rest of their options.

A task type declares its options (``TaskOption``); those with a ``flag`` become flags of
``run``, ``score`` and ``validate`` for tasks of that type. The flags are added when the
command line is parsed, from the types of the tasks it names, so the CLI keeps no list of
them. Without ``--task`` (``--help``), every registered type's flags are listed.

Click keeps the last value of an option given twice; here that is an error (several tasks
are one comma-separated or repeated ``--task``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from muge_eval.errors import MugeEvalError, UsageError

FLAG_PREFIX = "flag_"


def _values(args: Sequence[str], flag: str) -> list[str]:
    """Every value given for ``flag`` (``--flag V`` or ``--flag=V``) in raw arguments."""
    found: list[str] = []
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if arg == flag and index + 1 < len(args):
            found.append(args[index + 1])
        elif arg.startswith(flag + "="):
            found.append(arg[len(flag) + 1 :])
    return found


def task_names(values: Sequence[str]) -> list[str]:
    """``--task a,b --task c`` -> [a, b, c] (a card path may not contain a comma)."""
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return list(dict.fromkeys(names))


def _type_classes(names: Sequence[str], tasks_dirs: Sequence[str]) -> list[Any] | None:
    """The task type classes of the named tasks; None when any cannot be resolved (the
    command itself will then report it properly)."""
    from muge_eval.plugins import build_registries
    from muge_eval.tasktypes.loading import card_for

    try:
        registries = build_registries(tuple(Path(d) for d in tasks_dirs if Path(d).is_dir()))
        if not names:
            return [registries.task_types.get(n) for n in registries.task_types.names()]
        classes = []
        for name in names:
            card = card_for(registries, name)
            classes.append(registries.task_types.get(card.type))
        return classes
    except MugeEvalError:
        return None


def _flag_options(classes: Sequence[Any]) -> list[Any]:
    """One TaskOption per distinct flag (types that share a flag share its option name)."""
    by_flag: dict[str, Any] = {}
    for cls in classes:
        for option in cls.option_flags():
            known = by_flag.get(option.flag)
            if known is not None and known.name != option.name:
                raise UsageError(f"{option.flag} means {known.name} and {option.name} in different task types")
            by_flag.setdefault(option.flag, option)
    return list(by_flag.values())


class TaskCommand(click.Command):
    """A command with ``--task``: task-type flags added per invocation, repeats refused."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._base_params = list(self.params)

    def _single_flags(self) -> list[str]:
        flags: list[str] = []
        for param in self._base_params:
            if isinstance(param, click.Option) and not param.multiple and not param.is_flag:
                flags.extend(o for o in param.opts if o.startswith("--"))
        return flags

    def _refuse_repeats(self, args: Sequence[str]) -> None:
        for flag in self._single_flags():
            count = len(_values(args, flag))
            if count > 1:
                hint = " (several tasks: --task a,b,c)" if flag == "--model" else ""
                raise click.UsageError(f"{flag} is given {count} times; give it once{hint}")

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        self._refuse_repeats(args)
        names = task_names(_values(args, "--task"))
        classes = _type_classes(names, _values(args, "--tasks-dir"))
        if classes is None:  # an unknown task: the command says so with suggestions
            classes = _type_classes([], _values(args, "--tasks-dir")) or []
        present = {opt for p in self._base_params for opt in getattr(p, "opts", [])}
        extra = [
            click.Option([o.flag, FLAG_PREFIX + o.name], default=None, help=f"{o.help} [task option {o.name}]")
            for o in _flag_options(classes)
            if o.flag not in present
        ]
        self.params = [*self._base_params, *extra]
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as exc:
            owner = self._owner_of(exc.option_name, args)
            if owner:
                raise click.UsageError(
                    f"{exc.option_name} is an option of {owner} tasks, not of the task(s) named"
                ) from exc
            raise

    @staticmethod
    def _owner_of(flag: str, args: Sequence[str]) -> str:
        classes = _type_classes([], _values(args, "--tasks-dir")) or []
        return ", ".join(cls.name for cls in classes if any(o.flag == flag for o in cls.option_flags()))


def task_options(task_args: Mapping[str, str], flags: Mapping[str, Any], task_class: Any) -> dict[str, Any]:
    """One task's options: ``--task-args`` plus the flags its type declares (a flag wins)."""
    options: dict[str, Any] = dict(task_args)
    for option in task_class.option_flags():
        value = flags.get(FLAG_PREFIX + option.name)
        if value is not None:
            options[option.name] = value
    return options


def unused_flags(flags: Mapping[str, Any], classes: Sequence[Any]) -> list[str]:
    """Flags given that no named task's type takes."""
    taken = {FLAG_PREFIX + o.name for cls in classes for o in cls.option_flags()}
    return [name[len(FLAG_PREFIX) :] for name, value in flags.items() if value is not None and name not in taken]
