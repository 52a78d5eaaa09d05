"""One small typed registry for tasks, task types, model adapters, metrics and tokenizers.

Entries are lazy: a built-in is registered as a ``"module:attr"`` string and imported only
when used, so listing models never imports torch. Third-party packages add entries through
entry-point groups (``muge_eval.models`` and so on), and a name containing ``:`` that is not
registered is imported directly, for code that is not packaged.
"""

from __future__ import annotations

import difflib
import importlib
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Generic, TypeVar

from muge_eval.errors import UsageError

T = TypeVar("T")


@dataclass(frozen=True)
class Entry(Generic[T]):
    """A registered name: an import path, or a loader that builds the object on demand."""

    name: str
    summary: str
    import_path: str | None = None
    loader: Callable[[], T] | None = None
    origin: str = "built-in"


def _in_current_directory(module_name: str) -> bool:
    """Whether the top package of ``module_name`` is a file or folder of the current
    directory that the import path does not reach (the console script does not put the
    current directory on ``sys.path``, unlike ``python -m``)."""
    top = module_name.split(".")[0]
    cwd = Path.cwd()
    if str(cwd) in sys.path or "" in sys.path:
        return False
    return (cwd / f"{top}.py").is_file() or (cwd / top / "__init__.py").is_file()


def import_module(module_name: str) -> Any:
    """Import a module; one found in the current directory is imported from there."""
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name != module_name.split(".")[0] or not _in_current_directory(module_name):
            raise
    sys.path.insert(0, str(Path.cwd()))
    return importlib.import_module(module_name)


def import_object(path: str) -> Any:
    """Import ``"package.module:attr"`` (``attr`` may be dotted)."""
    module_name, _, attr = path.partition(":")
    if not module_name or not attr:
        raise UsageError(f"{path!r} is not of the form 'package.module:attribute'")
    try:
        target: Any = import_module(module_name)
    except ImportError as exc:
        raise UsageError(f"cannot import module {module_name!r} for {path!r}: {exc}") from exc
    for part in attr.split("."):
        try:
            target = getattr(target, part)
        except AttributeError as exc:
            raise UsageError(f"module {module_name!r} has no attribute {attr!r}") from exc
    return target


class Registry(Generic[T]):
    """Name -> object of one kind, with lazy entries, entry points and suggestions."""

    def __init__(self, kind: str, entry_point_group: str | None = None):
        self.kind = kind
        self.entry_point_group = entry_point_group
        self._entries: dict[str, Entry[T]] = {}
        self._entry_points_loaded = entry_point_group is None

    def add(
        self,
        name: str,
        target: str | Callable[[], T],
        summary: str = "",
        origin: str = "built-in",
    ) -> None:
        """Register ``name``; ``target`` is ``"module:attr"`` or a zero-argument loader."""
        if name in self._entries:
            raise UsageError(f"{self.kind} {name!r} is registered twice ({origin} and {self._entries[name].origin})")
        if isinstance(target, str):
            self._entries[name] = Entry(name, summary, import_path=target, origin=origin)
        else:
            self._entries[name] = Entry(name, summary, loader=target, origin=origin)

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        assert self.entry_point_group is not None
        for ep in metadata.entry_points(group=self.entry_point_group):
            if ep.name not in self._entries:
                self._entries[ep.name] = Entry(
                    ep.name, f"plugin {ep.value}", import_path=ep.value, origin=f"entry point {ep.value}"
                )

    def entries(self) -> list[Entry[T]]:
        self._load_entry_points()
        return [self._entries[name] for name in sorted(self._entries)]

    def names(self) -> list[str]:
        return [entry.name for entry in self.entries()]

    def __contains__(self, name: object) -> bool:
        if name in self._entries:  # entry points never replace a registered name
            return True
        self._load_entry_points()
        return name in self._entries

    def get(self, name: str) -> T:
        """The object registered as ``name``, or the object at import path ``name``."""
        entry = self._entries.get(name)
        if entry is None:  # entry points never replace a registered name: read them only now
            self._load_entry_points()
            entry = self._entries.get(name)
        if entry is None:
            if ":" in name:
                return import_object(name)  # type: ignore[no-any-return,unused-ignore]
            raise UsageError(self.unknown_message(name))
        if entry.loader is not None:
            return entry.loader()
        assert entry.import_path is not None
        return import_object(entry.import_path)  # type: ignore[no-any-return,unused-ignore]

    def unknown_message(self, name: str) -> str:
        message = f"unknown {self.kind} {name!r}"
        close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.6)
        if close:
            message += "; did you mean " + " or ".join(repr(c) for c in close) + "?"
        available = self.names()
        if available:
            message += f" (available: {', '.join(available)})"
        return message

    def summaries(self) -> Iterable[tuple[str, str]]:
        for entry in self.entries():
            yield entry.name, entry.summary
