"""``muge-eval``: evaluate models on MUGE tasks, score and validate submissions."""

from __future__ import annotations

import os
from pathlib import Path

import click

from muge_eval import __version__
from muge_eval.cli.board_commands import leaderboard_group, submit_command
from muge_eval.cli.common import MugeGroup, registries_for, tasks_dir_option
from muge_eval.cli.regress_command import regress_command
from muge_eval.cli.run_command import run_command
from muge_eval.cli.submission_commands import score_command, validate_command


@click.group(cls=MugeGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="muge-eval")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars or status lines (for CI logs).")
@click.pass_context
def main(ctx: click.Context, quiet: bool) -> None:
    """Evaluate Chinese multimodal models on MUGE and related benchmarks.

    \b
    Examples:
      muge-eval tasks
      muge-eval run --task muge-retrieval-sample --model random
      muge-eval score --task muge-retrieval --gold MR_valid_queries.jsonl --predictions pred.jsonl
    """
    ctx.obj = {"quiet": quiet}
    if quiet:
        # `datasets` reads this when it is first imported (lazily, after this point).
        os.environ.setdefault("HF_DATASETS_DISABLE_PROGRESS_BARS", "1")
        # transformers' and the hub's bars (model loading) read this one.
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@main.command("tasks")
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


@main.command("models")
def models_command() -> None:
    """List the registered model adapters, one line each.

    \b
    Any class can also be named directly: --model my_pkg.module:MyAdapter
    """
    registries = registries_for(())
    for name, summary in registries.models.summaries():
        click.echo(f"{name:24s} {summary}")


main.add_command(run_command)
main.add_command(validate_command)
main.add_command(score_command)
main.add_command(submit_command)
main.add_command(leaderboard_group)
main.add_command(regress_command)
