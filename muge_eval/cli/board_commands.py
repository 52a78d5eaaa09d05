"""``muge-eval submit`` and ``muge-eval leaderboard build``."""

from __future__ import annotations

from pathlib import Path

import click

from muge_eval.leaderboard.board import load_board


@click.command("submit")
@click.argument("results", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--board",
    "board_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Board directory (holds board.yaml and results/).",
)
@click.option("--replace", is_flag=True, help="Replace the board's result of the same model and task.")
def submit_command(results: Path, board_dir: Path, replace: bool) -> None:
    """Check a results file against the schema and the board, and store it there.

    The samples file it lists (run with --log-samples) is stored beside it, so the site
    can show bootstrap intervals.

    \b
    Example:
      muge-eval submit muge-results/muge-retrieval-sample/random/results.json \\
          --board leaderboards/muge-sample
    """
    from muge_eval.leaderboard.submit import submit

    board = load_board(board_dir)
    stored = submit(results, board, replace)
    if stored.replaced is not None:
        click.echo(f"replaced: {stored.replaced}")
    click.echo(f"stored: {stored.results_path}")
    if stored.samples_path is not None:
        click.echo(f"samples: {stored.samples_path}")
    else:
        click.echo("note: no samples file listed (run with --log-samples): the site shows no intervals", err=True)


@click.group("leaderboard")
def leaderboard_group() -> None:
    """Build the static leaderboard site of a board."""


@leaderboard_group.command("build")
@click.argument("board_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=True, path_type=Path),
    help="Site folder to write (new, empty, or a site built earlier, which is replaced).",
)
def build_command(board_dir: Path, out: Path) -> None:
    """Build a static site (HTML, inline SVG, CSV and JSON) from a board's results.

    The site needs no network: open OUT/index.html in a browser or serve OUT from any
    static host.

    \b
    Example:
      muge-eval leaderboard build leaderboards/muge-sample --out site
    """
    from muge_eval.leaderboard.site import build_site

    board = load_board(board_dir)
    view = build_site(board, out)
    click.echo(f"{len(view.rows)} model(s), {len(view.tasks)} task(s): {out / 'index.html'}")
