"""What a reader of results files asks a task type (the board, ``regress``, ``table``):
its metrics' specs, its items' key field, its identity-defining protocol keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from muge_eval.errors import MugeEvalError

if TYPE_CHECKING:
    from muge_eval.plugins import Registries


class TaskTypeCatalog:
    """The registered task types, loaded once per board build; a type that is not
    installed answers with nothing (the board then shows no interval, with the reason)."""

    def __init__(self, registries: Registries | None = None):
        self._registries = registries
        self._loaded: dict[str, Any] = {}

    def _type(self, name: str) -> Any:
        if name not in self._loaded:
            if self._registries is None:
                from muge_eval.plugins import build_registries

                self._registries = build_registries()
            found = None
            if name in self._registries.task_types:
                try:
                    found = self._registries.task_types.get(name)
                except MugeEvalError:
                    found = None
            self._loaded[name] = found
        return self._loaded[name]

    def metric_info(self, task_type: str, metric: str) -> dict[str, Any]:
        """The registered spec of ``metric`` as a metric_info entry ({} when unknown)."""
        cls = self._type(task_type)
        if cls is None:
            return {}
        spec = next((s for s in cls.metric_specs() if s.name == metric), None)
        return spec.recorded() if spec is not None else {}

    def item_key(self, task_type: str) -> str | None:
        """The field that identifies an item in this type's samples (None when unknown)."""
        cls = self._type(task_type)
        return None if cls is None else str(cls.item_key)

    def identity_keys(self, task_type: str) -> tuple[str, ...] | None:
        """Protocol keys whose difference makes two runs incomparable (None when unknown)."""
        cls = self._type(task_type)
        return None if cls is None else tuple(cls.identity_protocol_keys)
