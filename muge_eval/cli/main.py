"""``muge-eval``: evaluate models on MUGE tasks, score and validate submissions.

Commands are imported when run, not to print this help (see MugeGroup).
"""

from __future__ import annotations

import os

import click

from muge_eval.cli.common import MugeGroup
from muge_eval.version import __version__

# name -> (import path, one-line help). The help text is printed without importing.
COMMANDS = {
    "run": ("muge_eval.cli.run_command:run_command", "Evaluate a model on one or more tasks."),
    "validate": ("muge_eval.cli.submission_commands:validate_command", "Check a submission without scoring it."),
    "score": ("muge_eval.cli.submission_commands:score_command", "Score a submission against gold data."),
    "table": ("muge_eval.cli.table_command:table_command", "Tabulate results files as text, Markdown or CSV."),
    "submit": ("muge_eval.cli.board_commands:submit_command", "Check a results file and store it on a board."),
    "leaderboard": ("muge_eval.cli.board_commands:leaderboard_group", "Build the static leaderboard site of a board."),
    "arena": (
        "muge_eval.cli.arena_command:arena_command",
        "Rate caption runs by pairwise judgements of a judge model.",
    ),
    "regress": ("muge_eval.cli.regress_command:regress_command", "Compare results with a golden results file."),
    "published": ("muge_eval.cli.published_commands:published_command", "List published retrieval results."),
    "compare": ("muge_eval.cli.published_commands:compare_command", "Put a run's metrics next to published ones."),
    "tasks": ("muge_eval.cli.info_commands:tasks_command", "List the registered tasks."),
    "task-types": ("muge_eval.cli.info_commands:task_types_command", "Describe the registered task types."),
    "models": ("muge_eval.cli.info_commands:models_command", "List the registered model adapters."),
    "metrics": ("muge_eval.cli.info_commands:metrics_command", "List the metrics of every task type and plugin."),
}


@click.group(
    cls=MugeGroup,
    lazy_commands=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
)
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
