"""Build a board's static site: pages in English and Chinese, inline SVG plots, galleries
with thumbnails, CSV and JSON downloads.

The site is built task by task (only one task's per-sample records are in memory at a
time) in a temporary folder beside ``--out`` and swapped in when complete. Published
copies of results and samples hold no absolute path of the machine that made them.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.errors import UsageError
from muge_eval.io.atomic import atomic_write_lines, make_sibling_dir, output_errors
from muge_eval.leaderboard.board import Board, BoardTask
from muge_eval.leaderboard.entries import SAMPLES_SUFFIX, Entry, entries_for, load_entries
from muge_eval.leaderboard.exports import overview_csv, overview_json, task_csv, task_json
from muge_eval.leaderboard.gallery.build import GalleryContext, RunGallery, plan_gallery, task_galleries
from muge_eval.leaderboard.gallery.hooks import gallery_hook
from muge_eval.leaderboard.gallery.images import ThumbnailStore
from muge_eval.leaderboard.modelcard import card_from
from muge_eval.leaderboard.pages import environment, render_both, task_plots, task_slug
from muge_eval.leaderboard.paths import scrub, scrubbed_lines
from muge_eval.leaderboard.references import ReferenceLookup, ReferenceRow, resolve_reference
from muge_eval.leaderboard.tables import Overview, TaskTable, metric_infos, overview_of, task_table
from muge_eval.progress import Progress
from muge_eval.results import read_samples
from muge_eval.tasktypes.catalog import TaskTypeCatalog

SITE_MARKER = ".muge-eval-site"
MB = 1_000_000


@dataclass(frozen=True)
class BuiltSite:
    """What a build wrote: the tables, and the site's size by kind of file."""

    view: Overview
    pages: int
    bytes_total: int
    bytes_images: int
    images: int
    images_over_budget: int


def bundled_data_dir(task: str) -> Path | None:
    """The data shipped with a built-in card of this name (the bundled samples), if any."""
    from muge_eval.cards import builtin_tasks_dir, load_card
    from muge_eval.errors import MugeEvalError

    path = builtin_tasks_dir() / f"{task}.yaml"
    if not path.is_file():
        return None
    try:
        card = load_card(path)
    except MugeEvalError:
        return None
    location = card.data_location() if card.data.source == "local" else None
    return location if location is not None and location.is_dir() else None


def resolve_references(board: Board, lookup: ReferenceLookup | None) -> dict[str, tuple[ReferenceRow, ...]]:
    """Every board task's reference rows (registry ids resolved through ``lookup``)."""
    file = str(board.directory / "board.yaml")
    return {
        task.name: tuple(
            resolve_reference(entry, lookup, task.name, task.split, task.columns, file) for entry in task.references
        )
        for task in board.tasks
    }


def _organisations(rows: Sequence[Any]) -> list[str]:
    return sorted({r.card.organisation for r in rows if r.card.organisation}, key=str.casefold)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def _run_files(entry: Entry, document: Mapping[str, Any], out: Path) -> None:
    """The run's results (and samples) as published: absolute paths cut."""
    _write(out / "runs" / f"{entry.stem}.json", json.dumps(document, ensure_ascii=False, indent=2) + "\n")
    if entry.samples_path is not None:
        source = entry.samples_path
        atomic_write_lines(out / "runs" / f"{entry.stem}{SAMPLES_SUFFIX}", lambda: scrubbed_lines(source))


def _task_runs(
    env: Any,
    board: Board,
    task: BoardTask,
    entries: Sequence[Entry],
    references: Sequence[ReferenceRow],
    data_dir: Path | None,
    store: ThumbnailStore,
    types: TaskTypeCatalog,
    out: Path,
    bar: Any,
) -> TaskTable:
    """One task: its table (intervals from the samples), and each run's page and gallery."""
    bar.set_postfix_str(f"{task.name}: reading samples")
    samples: dict[str, Sequence[Mapping[str, Any]] | None] = {}
    for entry in entries:
        samples[entry.stem] = read_samples(entry.samples_path) if entry.samples_path is not None else None
    bar.set_postfix_str(f"{task.name}: intervals")
    table = task_table(board, task, entries, samples, types, references)
    bar.set_postfix_str(f"{task.name}: galleries")
    choice = GalleryContext(
        task, board.gallery, board.seed, types.item_key(table.task_type), gallery_hook(table.task_type)
    )
    plans = {}
    for entry in entries:
        infos = metric_infos([entry.document], task.columns, table.task_type, types)
        plans[entry.stem] = plan_gallery(infos, samples[entry.stem] or [], choice)
    del samples
    galleries = task_galleries(
        plans, {e.stem: e.gallery_path for e in entries}, data_dir, task.split, task_slug(task.name), store
    )
    bar.set_postfix_str(f"{task.name}: pages")
    for entry in entries:
        document = scrub(entry.document)
        context = {
            "board": board,
            "board_task": task,
            "entry": entry,
            "doc": document,
            "card": card_from(document["model"].get("card")),
            "has_samples": entry.samples_path is not None,
        }
        render_both(env, "run.html.j2", f"runs/{entry.stem}.html", out, **context)
        gallery: RunGallery = galleries[entry.stem]
        render_both(env, "gallery.html.j2", f"gallery/{entry.stem}.html", out, gallery=gallery, **context)
        _run_files(entry, document, out)
        bar.update(1)
    return table


def _pages(
    board: Board,
    entries: Sequence[Entry],
    references: Mapping[str, Sequence[ReferenceRow]],
    data_dirs: Mapping[str, Path | None],
    out: Path,
    progress: Progress,
) -> tuple[Overview, ThumbnailStore]:
    env = environment()
    store = ThumbnailStore(out, board.gallery.thumbnail, board.gallery.max_image_mb * MB)
    types = TaskTypeCatalog()
    tables = []
    bar = progress.bar(len(entries), "leaderboard build", "run")
    try:
        for task in board.tasks:
            table = _task_runs(
                env,
                board,
                task,
                entries_for(entries, task.name),
                references.get(task.name, ()),
                data_dirs.get(task.name),
                store,
                types,
                out,
                bar,
            )
            tables.append(table)
    finally:
        bar.close()
    view = overview_of(tables)
    common = {"board": board}
    render_both(
        env, "overview.html.j2", "index.html", out, view=view, organisations=_organisations(view.rows), **common
    )
    _write(out / "overview.csv", overview_csv(view))
    _write(out / "overview.json", json.dumps(overview_json(board, view), ensure_ascii=False, indent=2) + "\n")
    for table in view.tasks:
        slug = task_slug(table.task.name)
        render_both(
            env,
            "task.html.j2",
            f"tasks/{slug}.html",
            out,
            table=table,
            plots=task_plots(table),
            organisations=_organisations(table.rows),
            **common,
        )
        _write(out / "tasks" / f"{slug}.csv", task_csv(table))
        _write(out / "tasks" / f"{slug}.json", json.dumps(task_json(board, table), ensure_ascii=False, indent=2) + "\n")
    return view, store


def _prepare_out(out: Path) -> None:
    """The output folder may be new, empty or an earlier site; anything else is refused."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / SITE_MARKER).is_file())):
        raise UsageError(f"{out} exists and is not a site built by muge-eval: choose another --out")


def _size(folder: Path) -> tuple[int, int]:
    files = [p for p in folder.rglob("*") if p.is_file()]
    return sum(p.stat().st_size for p in files), sum(1 for p in files if p.suffix == ".html")


def _swap_in(staging: Path, out: Path) -> None:
    """``staging`` becomes ``out``; an earlier site there stays as it was if that fails."""
    previous = None
    if out.exists():
        previous = make_sibling_dir(out, ".old")
        os.replace(out, previous)  # an empty directory is replaced by a directory
    try:
        os.replace(staging, out)
    except BaseException:
        if previous is not None:
            os.replace(previous, out)
        raise
    if previous is not None:
        shutil.rmtree(previous, ignore_errors=True)


def build_site(
    board: Board,
    out: Path,
    data_dirs: Mapping[str, Path] | None = None,
    references: ReferenceLookup | None = None,
    progress: Progress | None = None,
) -> BuiltSite:
    """Build the whole site in a temporary folder beside ``out``, then swap it in.

    ``data_dirs`` maps a board task to its data folder (gallery pictures); a task named
    after a built-in card with bundled data uses that data. ``references`` resolves
    registry ids listed under a task's ``references:``. An ``out`` that is a symbolic link
    is followed: the folder it points to is replaced and the link is left as it was. A
    failure to write (a full disk) is one ``OutputError``, and neither the staging folder
    nor a half-built site is left behind.
    """
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    _prepare_out(out)
    progress = progress or Progress(quiet=True)
    entries = load_entries(board)
    resolved = resolve_references(board, references)
    given = dict(data_dirs or {})
    unknown = sorted(set(given) - {t.name for t in board.tasks})
    if unknown:
        raise UsageError(f"--data-dir names task(s) not on this board: {', '.join(unknown)}")
    folders = {t.name: given.get(t.name) or bundled_data_dir(t.name) for t in board.tasks}
    with output_errors(out):
        staging = make_sibling_dir(out, ".staging")
        try:
            view, store = _pages(board, entries, resolved, folders, staging, progress)
            (staging / SITE_MARKER).write_text("built by muge-eval leaderboard build\n", encoding="utf-8")
            total, pages = _size(staging)
            _swap_in(staging, out)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return BuiltSite(view, pages, total, store.used, store.written, store.refused)
