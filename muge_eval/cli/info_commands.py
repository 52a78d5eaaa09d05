"""``muge-eval tasks``, ``task-types``, ``models`` and ``metrics``: what is registered."""

from __future__ import annotations

from pathlib import Path

import click

from muge_eval.cli.common import registries_for, tasks_dir_option


@click.command("tasks")
@tasks_dir_option
def tasks_command(tasks_dirs: tuple[Path, ...]) -> None:
    """List the registered tasks, one line each.

    \b
    Example:
      muge-eval tasks --tasks-dir ./my_cards
    """
    registries = registries_for(tasks_dirs)
    for name, summary in registries.tasks.summaries():
        click.echo(f"{name:32s} {summary}")


@click.command("task-types")
@click.argument("names", nargs=-1)
def task_types_command(names: tuple[str, ...]) -> None:
    """Describe task types: options, metrics, submission formats, adapters they take.

    \b
    Example:
      muge-eval task-types caption
    """
    registries = registries_for(())
    chosen = names or tuple(registries.task_types.names())
    for index, name in enumerate(chosen):
        cls = registries.task_types.get(name)
        if index:
            click.echo()
        click.echo(f"{name}: {cls.summary}")
        click.echo(f"  adapters: {cls.capability} ({', '.join(p.__name__ for p in cls.adapter_protocols)})")
        click.echo(f"  data formats: {', '.join(cls.data_formats) or 'any'}")
        if cls.directions:
            click.echo(f"  directions: {', '.join(cls.directions)}")
        click.echo("  options (card `options:`, --task-args k=v, or the flag):")
        for option in cls.options:
            flag = f" [{option.flag}]" if option.flag else ""
            click.echo(f"    {option.name}{flag}: {option.help}")
        click.echo("  metrics:")
        for spec in cls.metric_specs():
            arrow = "higher" if spec.higher_is_better else "lower"
            click.echo(f"    {spec.name} ({spec.unit}, {spec.aggregation}, {arrow} is better): {spec.description}")
        click.echo("  submission formats:")
        for fmt in cls.submission_formats:
            click.echo(f"    {fmt.name} ({fmt.file}): {fmt.description}")


@click.command("models")
def models_command() -> None:
    """List the registered model adapters, one line each.

    \b
    Any class can also be named directly: --model my_pkg.module:MyAdapter
    """
    registries = registries_for(())
    for name, summary in registries.models.summaries():
        click.echo(f"{name:24s} {summary}")


@click.command("metrics")
def metrics_command() -> None:
    """List every task type's metrics and the metrics plugins add (muge_eval.metrics).

    A plugin metric is selected by a card's `metrics:` list or `--metrics`.
    """
    registries = registries_for(())
    for type_name in registries.task_types.names():
        for spec in registries.task_types.get(type_name).metric_specs():
            click.echo(f"{type_name + '/' + spec.name:28s} {spec.description}")
    for name, summary in registries.metrics.summaries():
        spec = registries.metrics.get(name)
        types = ", ".join(getattr(spec, "task_types", ())) or "any type"
        click.echo(f"{name:28s} plugin for {types}: {getattr(spec, 'description', summary)}")
