"""Render a board to a static site: HTML pages, inline SVG charts, CSV and JSON downloads.

Every page is self-contained (inline CSS and script, allowed by hash in its Content
Security Policy), so the site works from any static host or a local folder, offline.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from muge_eval.errors import UsageError
from muge_eval.io.atomic import make_sibling_dir, output_errors
from muge_eval.leaderboard.board import Board
from muge_eval.leaderboard.checks import is_http_url
from muge_eval.leaderboard.entries import SAMPLES_SUFFIX, Entry, load_entries
from muge_eval.leaderboard.exports import overview_csv, overview_json, task_csv, task_json
from muge_eval.leaderboard.format import format_number, json_text
from muge_eval.leaderboard.svg import bar_chart
from muge_eval.leaderboard.tables import Overview, TaskTable, overview
from muge_eval.naming import safe_name
from muge_eval.results import read_samples

SITE_MARKER = ".muge-eval-site"


def _asset(name: str) -> str:
    return resources.files("muge_eval.leaderboard").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def _environment() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("muge_eval.leaderboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["num"] = format_number
    env.filters["json_text"] = json_text
    env.tests["http_url"] = is_http_url
    css, script = _asset("site.css"), _asset("sort.js")
    env.globals.update(
        css=css,
        script=script,
        csp=f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "img-src data:; base-uri 'none'; form-action 'none'",
    )
    return env


def task_slug(name: str) -> str:
    return safe_name(name)


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def _chart(table: TaskTable) -> Any:
    main = table.task.columns.index(table.task.main_metric)
    column = table.columns[main]
    items = [(row.model, row.cells[main].value or 0.0, row.cells[main].low, row.cells[main].high) for row in table.rows]
    direction = "higher is better" if column.higher_is_better else "lower is better"
    return bar_chart(f"{table.task.display}: {column.key} ({direction})", items, column.unit)


def _pages(env: Any, board: Board, view: Overview, entries: Sequence[Entry], out: Path) -> None:
    common = {"board": board, "slug": task_slug}
    _write(out / "index.html", env.get_template("overview.html.j2").render(root="", view=view, **common))
    _write(out / "overview.csv", overview_csv(view))
    _write(out / "overview.json", json.dumps(overview_json(board, view), ensure_ascii=False, indent=2) + "\n")
    for table in view.tasks:
        slug = task_slug(table.task.name)
        page = env.get_template("task.html.j2").render(root="../", table=table, chart=_chart(table), **common)
        _write(out / "tasks" / f"{slug}.html", page)
        _write(out / "tasks" / f"{slug}.csv", task_csv(table))
        _write(out / "tasks" / f"{slug}.json", json.dumps(task_json(board, table), ensure_ascii=False, indent=2) + "\n")
    for entry in entries:
        has_samples = entry.samples_path is not None
        page = env.get_template("run.html.j2").render(
            root="../", entry=entry, doc=entry.document, has_samples=has_samples, **common
        )
        _write(out / "runs" / f"{entry.stem}.html", page)
        shutil.copyfile(entry.path, out / "runs" / f"{entry.stem}.json")
        if entry.samples_path is not None:
            shutil.copyfile(entry.samples_path, out / "runs" / f"{entry.stem}{SAMPLES_SUFFIX}")


def _prepare_out(out: Path) -> None:
    """The output folder may be new, empty or an earlier site; anything else is refused."""
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / SITE_MARKER).is_file())):
        raise UsageError(f"{out} exists and is not a site built by muge-eval: choose another --out")


def build_site(board: Board, out: Path) -> Overview:
    """Build the whole site in a temporary folder beside ``out``, then swap it in.

    An ``out`` that is a symbolic link is followed: the folder it points to is replaced and
    the link is left as it was. A failure to write (a full disk) is one ``OutputError``, and
    neither the staging folder nor a half-built site is left behind.
    """
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    _prepare_out(out)
    entries = load_entries(board)
    samples: Mapping[str, Sequence[Mapping[str, Any]] | None] = {
        e.stem: read_samples(e.samples_path) if e.samples_path is not None else None for e in entries
    }
    view = overview(board, entries, samples)
    with output_errors(out):
        staging = make_sibling_dir(out, ".staging")
        try:
            _pages(_environment(), board, view, entries, staging)
            (staging / SITE_MARKER).write_text("built by muge-eval leaderboard build\n", encoding="utf-8")
            previous = None
            if out.exists():
                previous = make_sibling_dir(out, ".old")
                os.replace(out, previous)  # an empty directory is replaced by a directory
            try:
                os.replace(staging, out)
            except BaseException:
                if previous is not None:
                    os.replace(previous, out)  # the earlier site stays as it was
                raise
            if previous is not None:
                shutil.rmtree(previous, ignore_errors=True)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
    return view
