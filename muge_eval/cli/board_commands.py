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
@click.option(
    "--card",
    "card_file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Model card (YAML/JSON): display_name, organisation, parameters, weights (open|closed), licence, "
    "link, release_date, setting (zero-shot|fine-tuned); stored as model.card.",
)
def submit_command(results: Path, board_dir: Path, replace: bool, card_file: Path | None) -> None:
    """Check a results file against the schema and the board, and store it there.

    The samples file it lists (run with --log-samples) is stored beside it, so the site
    can show bootstrap intervals and a gallery; absolute paths in the stored copies are
    cut to their last component.

    \b
    Example:
      muge-eval run --task muge-retrieval-sample --model random --seed 3 \\
          --model-name random-seed3 --log-samples --output-dir runs/random-seed3
      muge-eval submit runs/random-seed3/results.json --board my-board --card card.yaml
    """
    from muge_eval.leaderboard.modelcard import read_card_file
    from muge_eval.leaderboard.submit import submit

    board = load_board(board_dir)
    card = read_card_file(card_file) if card_file is not None else None
    stored = submit(results, board, replace, card)
    if stored.replaced is not None:
        click.echo(f"replaced: {stored.replaced}")
    click.echo(f"stored: {stored.results_path}")
    if stored.gallery_path is not None:
        click.echo(f"gallery images: {stored.gallery_path}")
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
@click.option(
    "--data-dir",
    "data_dirs",
    multiple=True,
    metavar="TASK=DIR",
    help="A task's data folder, for the gallery's pictures (repeatable). Bundled sample tasks "
    "use their bundled data; without data a gallery shows text only.",
)
@click.pass_context
def build_command(ctx: click.Context, board_dir: Path, out: Path, data_dirs: tuple[str, ...]) -> None:
    """Build a static site (HTML in English and Chinese, inline SVG plots, galleries, CSV
    and JSON) from a board's results.

    The site needs no network: open OUT/index.html (or OUT/zh/index.html) in a browser
    or serve OUT from any static host.

    \b
    Example:
      muge-eval leaderboard build leaderboards/muge-sample --out site
      muge-eval leaderboard build my-board --out site --data-dir muge-retrieval=~/data/MUGE
    """
    from muge_eval.errors import UsageError
    from muge_eval.leaderboard.published_rows import published_lookup
    from muge_eval.leaderboard.site import build_site
    from muge_eval.progress import Progress

    folders: dict[str, Path] = {}
    for item in data_dirs:
        task, sep, folder = item.partition("=")
        if not sep or not task or not folder:
            raise UsageError(f"--data-dir {item!r}: expected TASK=DIR")
        path = Path(folder).expanduser()
        if not path.is_dir():
            raise UsageError(f"--data-dir {item!r}: {path} is not a folder")
        folders[task] = path
    board = load_board(board_dir)
    quiet = bool((ctx.find_root().obj or {}).get("quiet"))
    lookup = published_lookup() if any(task.references for task in board.tasks) else None
    built = build_site(board, out, folders, progress=Progress(quiet=quiet), references=lookup)
    submitted = sum(1 for r in built.view.rows if not r.is_reference)
    click.echo(f"{submitted} model(s), {len(built.view.tasks)} task(s), {built.pages} pages: {out / 'index.html'}")
    size = (
        f"site {built.bytes_total / 1e6:.1f} MB, of which {built.images} thumbnail(s) {built.bytes_images / 1e6:.1f} MB"
    )
    limit = f"(thumbnail budget {board.gallery.max_image_mb} MB"
    over = f"; {built.images_over_budget} left out over it)" if built.images_over_budget else ")"
    click.echo(f"{size} {limit}{over}")
