"""Reading and checking the registry's YAML files (``muge_eval/published/data``).

Each file may hold ``sources:`` (key -> title, kind, measured_by, repository, path,
commit, url, paper, note), ``models:`` (key -> name, family, parameters, vision, text,
resolution, open_weights, released, adapter, note) and ``groups:``, each a table of one
source: ``source``, ``table``, ``task``, ``split``, ``direction``, ``setting``,
``decimals``, ``protocol``, ``notes`` and ``rows`` (``model`` plus ``r1``/``r5``/``r10``/
``mean_recall``, and any group field to override). Every problem in every file is
reported at once, named by file and entry; a registry that does not check out is never
partly used.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from muge_eval.errors import InputError, Problem, UsageError, brief
from muge_eval.io.safe_yaml import read_yaml_file
from muge_eval.published.records import (
    DIRECTION_SHORT,
    DIRECTIONS,
    MEASURED_BY,
    METRICS,
    SETTINGS,
    SOURCE_KINDS,
    ModelInfo,
    PublishedResult,
    Source,
)

SOURCE_FIELDS = {"title", "kind", "measured_by", "repository", "path", "commit", "url", "paper", "note"}
MODEL_FIELDS = {"name", "family", "parameters", "vision", "text", "resolution", "open_weights", "released", "adapter"}
MODEL_FIELDS |= {"note"}
GROUP_FIELDS = {"source", "table", "task", "split", "direction", "setting", "decimals", "protocol", "notes", "rows"}
ROW_FIELDS = (GROUP_FIELDS - {"rows", "source", "table"}) | {"model", *METRICS}
KEY = re.compile(r"[a-z0-9][a-z0-9.+-]*")


def data_dir() -> Path:
    """The registry's bundled YAML files."""
    return Path(__file__).resolve().parent / "data"


class _Checker:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(self, file: str, where: str, message: str) -> None:
        self.problems.append(Problem(file, message, None, where))

    def text(self, doc: Mapping[str, Any], name: str, file: str, where: str, required: bool = True) -> str | None:
        value = doc.get(name)
        if value is None:
            if required:
                self.add(file, f"{where}.{name}", "is required")
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(file, f"{where}.{name}", f"must be a non-empty string, got {brief(value)}")
            return None
        return value

    def choice(self, doc: Mapping[str, Any], name: str, choices: tuple[str, ...], file: str, where: str) -> str:
        value = doc.get(name)
        if value not in choices:
            self.add(file, f"{where}.{name}", f"must be one of {', '.join(choices)}, got {brief(value)}")
            return choices[0]
        return str(value)

    def unknown(self, doc: Mapping[str, Any], allowed: set[str], file: str, where: str) -> None:
        for name in sorted(set(map(str, doc)) - allowed):
            self.add(file, f"{where}.{name}", f"unknown field (allowed: {', '.join(sorted(allowed))})")

    def mapping(self, doc: Any, allowed: set[str], file: str, where: str) -> bool:
        """Whether ``doc`` is a mapping (a problem if not); its unknown fields are problems."""
        if not isinstance(doc, dict):
            self.add(file, where, "must be a mapping")
            return False
        self.unknown(doc, allowed, file, where)
        return True


def _read(path: Path) -> Any:
    doc, _ = read_yaml_file(path, "published results")
    return doc


def _source(key: str, doc: Any, file: str, check: _Checker) -> Source | None:
    where = f"sources.{key}"
    if not check.mapping(doc, SOURCE_FIELDS, file, where):
        return None
    title = check.text(doc, "title", file, where) or key
    kind = check.choice(doc, "kind", SOURCE_KINDS, file, where)
    measured_by = check.choice(doc, "measured_by", MEASURED_BY, file, where)
    optional = {name: check.text(doc, name, file, where, required=False) for name in SOURCE_FIELDS - {"title"}}
    if kind == "repository-file" and not (optional["repository"] and optional["path"] and optional["commit"]):
        check.add(file, where, "a repository-file source needs repository, path and commit")
    commit = optional["commit"]
    if commit is not None and not re.fullmatch(r"[0-9a-f]{40}", commit):
        check.add(file, f"{where}.commit", "must be a full 40-digit commit hash")
    return Source(
        key,
        title,
        kind,
        measured_by,
        optional["repository"],
        optional["path"],
        commit,
        optional["url"],
        optional["paper"],
        optional["note"] or "",
    )


def _model(key: str, doc: Any, file: str, check: _Checker) -> ModelInfo | None:
    where = f"models.{key}"
    if not check.mapping(doc, MODEL_FIELDS, file, where):
        return None
    name = check.text(doc, "name", file, where) or key
    family = check.text(doc, "family", file, where) or key
    names = ("parameters", "vision", "text", "released", "adapter")
    strings = {f: check.text(doc, f, file, where, False) for f in names}
    resolution = doc.get("resolution")
    if resolution is not None and (isinstance(resolution, bool) or not isinstance(resolution, int) or resolution < 1):
        check.add(file, f"{where}.resolution", f"must be a positive integer, got {resolution!r}")
        resolution = None
    open_weights = doc.get("open_weights")
    if open_weights is not None and not isinstance(open_weights, bool):
        check.add(file, f"{where}.open_weights", f"must be true or false, got {open_weights!r}")
        open_weights = None
    return ModelInfo(
        key,
        name,
        family,
        strings["parameters"],
        strings["vision"],
        strings["text"],
        resolution,
        open_weights,
        strings["released"],
        strings["adapter"],
        check.text(doc, "note", file, where, False) or "",
    )


def _metrics(row: Mapping[str, Any], file: str, where: str, check: _Checker) -> dict[str, float]:
    metrics: dict[str, float] = {}
    for name in METRICS:
        value = row.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 100:
            check.add(file, f"{where}.{name}", f"must be a percentage between 0 and 100, got {brief(value)}")
            continue
        metrics[name] = float(value)
    if not metrics:
        check.add(file, where, f"gives no metric ({', '.join(METRICS)})")
    if {"r1", "r5", "r10"} <= set(metrics) and not metrics["r1"] <= metrics["r5"] <= metrics["r10"]:
        check.add(file, where, "R@1 <= R@5 <= R@10 does not hold: a value was copied wrong")
    return metrics


def _rows(
    group: Mapping[str, Any],
    index: int,
    file: str,
    sources: Mapping[str, Source],
    models: Mapping[str, ModelInfo],
    check: _Checker,
) -> Iterable[PublishedResult]:
    where = f"groups[{index}]"
    check.unknown(group, GROUP_FIELDS, file, where)
    source = sources.get(str(group.get("source")))
    if source is None:
        check.add(file, f"{where}.source", f"unknown source {group.get('source')!r} (known: {', '.join(sources)})")
    table = check.text(group, "table", file, where) or ""
    rows = group.get("rows")
    if not isinstance(rows, list) or not rows:
        check.add(file, f"{where}.rows", "must be a non-empty list")
        return
    for number, row in enumerate(rows):
        row_where = f"{where}.rows[{number}]"
        if not isinstance(row, dict):
            check.add(file, row_where, "must be a mapping")
            continue
        check.unknown(row, ROW_FIELDS, file, row_where)
        merged = {**{k: v for k, v in group.items() if k != "rows"}, **row}
        model = models.get(str(row.get("model")))
        named = f"{row_where} ({row.get('model')})"
        if model is None:
            check.add(file, f"{named}.model", f"unknown model {row.get('model')!r}")
        task = check.text(merged, "task", file, named)
        split = check.text(merged, "split", file, named)
        direction = check.choice(merged, "direction", DIRECTIONS, file, named)
        setting = check.choice(merged, "setting", SETTINGS, file, named)
        decimals = merged.get("decimals", 1)
        if isinstance(decimals, bool) or not isinstance(decimals, int) or not 0 <= decimals <= 6:
            check.add(file, f"{named}.decimals", f"must be an integer 0-6, got {decimals!r}")
            decimals = 1
        protocol = merged.get("protocol") or {}
        if not isinstance(protocol, dict):
            check.add(file, f"{named}.protocol", "must be a mapping")
            protocol = {}
        metrics = _metrics(row, file, named, check)
        if source is None or model is None or task is None or split is None:
            continue
        short = task.removesuffix("-retrieval")
        result_id = f"{source.key}/{model.key}/{short}/{split}/{DIRECTION_SHORT[direction]}/{setting}"
        notes = merged.get("notes") or ""
        yield PublishedResult(
            result_id, model, task, split, direction, setting, metrics, source, table, decimals, protocol, str(notes)
        )


def _section(
    doc: Mapping[str, Any], section: str, file: str, check: _Checker, defined: Mapping[str, Any]
) -> Iterable[tuple[str, Any]]:
    """The well-keyed entries of a ``sources:`` or ``models:`` mapping not defined before."""
    entries = doc.get(section) or {}
    if not isinstance(entries, dict):
        check.add(file, section, "must be a mapping")
        return
    for key, value in entries.items():
        if not isinstance(key, str) or not KEY.fullmatch(key):
            check.add(file, f"{section}.{key}", "keys are lower-case letters, digits, '.', '+' and '-'")
        elif key in defined:
            check.add(file, f"{section}.{key}", "is defined twice in the registry")
        else:
            yield key, value


def load_published(paths: Iterable[Path] | None = None) -> tuple[PublishedResult, ...]:
    """Every published result of the given YAML files (default: the bundled registry),
    checked; raises one InputError listing every problem."""
    files = sorted(data_dir().glob("*.yaml")) if paths is None else list(paths)
    check = _Checker()
    docs: list[tuple[str, dict[str, Any]]] = []
    for path in files:
        doc = _read(path)
        if not isinstance(doc, dict):
            check.add(str(path), "", "must be a YAML mapping of sources, models and groups")
            continue
        check.unknown(doc, {"sources", "models", "groups"}, str(path), "")
        docs.append((str(path), doc))
    sources: dict[str, Source] = {}
    models: dict[str, ModelInfo] = {}
    for file, doc in docs:
        for key, value in _section(doc, "sources", file, check, sources):
            source = _source(key, value, file, check)
            if source is not None:
                sources[key] = source
        for key, value in _section(doc, "models", file, check, models):
            model = _model(key, value, file, check)
            if model is not None:
                models[key] = model
    results: list[PublishedResult] = []
    seen: dict[str, str] = {}
    for file, doc in docs:
        groups = doc.get("groups") or []
        if not isinstance(groups, list):
            check.add(file, "groups", "must be a list")
            continue
        for index, group in enumerate(groups):
            if not isinstance(group, dict):
                check.add(file, f"groups[{index}]", "must be a mapping")
                continue
            for result in _rows(group, index, file, sources, models, check):
                if result.id in seen:
                    where = f"groups[{index}] ({result.model.key})"
                    check.add(file, where, f"id {result.id} repeats ({seen[result.id]})")
                    continue
                seen[result.id] = file
                results.append(result)
    if check.problems:
        raise InputError(check.problems, "invalid published results")
    return tuple(results)


def find_published(identifier: str, results: Iterable[PublishedResult] | None = None) -> PublishedResult:
    """The entry with this id; an error naming close ids when there is none."""
    entries = tuple(results) if results is not None else load_published()
    for entry in entries:
        if entry.id == identifier:
            return entry
    parts = [p for p in re.split(r"[/:]", identifier) if p]
    close = [e.id for e in entries if all(p in e.id for p in parts)][:8]
    hint = f"; close: {', '.join(close)}" if close else "; list them with `muge-eval published`"
    raise UsageError(f"no published result {identifier!r}{hint}")
