"""Rendering a site's pages, each in English (``PAGE``) and Chinese (``zh/PAGE``).

Every page is self-contained (inline CSS and script, allowed by hash in its Content
Security Policy; pictures only from the site itself), so the site works from any static
host or a local folder, offline.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from muge_eval.leaderboard.format import format_number, json_text
from muge_eval.leaderboard.i18n import metric_label, metric_text, reason_text, translator
from muge_eval.leaderboard.links import is_http_url
from muge_eval.leaderboard.plots import ForestPlot, PlotRow, ScatterPlot, forest_plot, scatter_plot
from muge_eval.leaderboard.tables import TaskTable
from muge_eval.leaderboard.texts import LANGUAGES
from muge_eval.naming import safe_name


def _asset(name: str) -> str:
    return resources.files("muge_eval.leaderboard").joinpath(f"templates/{name}").read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def task_slug(name: str) -> str:
    return safe_name(name)


def environment() -> Any:
    """The template environment: autoescaping, strict about undefined names."""
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
    css, script = _asset("site.css"), _asset("site.js")
    env.globals.update(
        css=css,
        script=script,
        csp=f"default-src 'none'; style-src {_csp_hash(css)}; script-src {_csp_hash(script)}; "
        "img-src 'self' data:; base-uri 'none'; form-action 'none'",
        slug=task_slug,
    )
    return env


def page_path(rel: str, lang: str) -> str:
    return rel if lang == "en" else f"zh/{rel}"


def render_both(env: Any, template: str, rel: str, out: Path, **context: Any) -> None:
    """Write ``template`` at ``rel`` (English) and ``zh/rel`` (Chinese), linked to each other."""
    compiled = env.get_template(template)
    depth = rel.count("/")
    for lang in LANGUAGES:
        other = "zh" if lang == "en" else "en"
        site = "../" * (depth + (lang == "zh"))
        html = compiled.render(
            lang=lang,
            t=translator(lang),
            site=site,
            home="../" * depth,
            switch=site + page_path(rel, other),
            metric_label=functools.partial(metric_label, lang=lang),
            metric_text=functools.partial(metric_text, lang=lang),
            reason=functools.partial(_reason, lang=lang),
            **context,
        )
        path = out / page_path(rel, lang)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(html, encoding="utf-8")


def _reason(reason: str, aggregation: str = "", lang: str = "en") -> str:
    return reason_text(reason, lang, aggregation)


@dataclass(frozen=True)
class TaskPlots:
    forest: ForestPlot | None
    parameters: ScatterPlot | None
    released: ScatterPlot | None


def task_plots(table: TaskTable) -> TaskPlots:
    """The main metric of every row: a forest plot, and against size and release date."""
    main = table.main_index
    unit = table.main_column.unit if table.columns else ""
    rows = [
        PlotRow(
            row.display,
            value,
            row.cells[main].low,
            row.cells[main].high,
            row.reference is not None,
            row.card.weights,
            row.card.parameters,
            row.card.release_year,
            row.card.release_date,
            row.card.parameters_text,
        )
        for row in table.rows
        if (value := row.cells[main].value) is not None
    ]
    return TaskPlots(
        forest_plot(rows, unit), scatter_plot(rows, "parameters", unit), scatter_plot(rows, "released", unit)
    )
