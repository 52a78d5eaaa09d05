"""Building an adapter from a name (or a class, or an object) and recording what it is."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from muge_eval.errors import UsageError
from muge_eval.models.args import construct, redact
from muge_eval.models.base import ModelAdapter, as_adapter, declared_capabilities, missing_methods

if TYPE_CHECKING:
    from muge_eval.plugins import Registries


@dataclass(frozen=True)
class ModelRequest:
    """A model to evaluate: a registered name, ``module:Class``, a class, or an adapter
    object (from the Python API), with its ``--model-args``."""

    model: Any
    args: Mapping[str, str] = field(default_factory=dict)
    display_name: str | None = None

    @property
    def adapter_name(self) -> str:
        if isinstance(self.model, str):
            return self.model
        target = self.model if inspect.isclass(self.model) else type(self.model)
        return f"{target.__module__}:{target.__qualname__}"

    @property
    def name(self) -> str:
        """The name recorded in the results."""
        return self.display_name or self.adapter_name


def build_adapter(
    registries: Registries,
    request: ModelRequest,
    capability: str,
    protocols: Sequence[type[ModelAdapter]],
    defaults: Mapping[str, Any] | None = None,
    role: str = "model",
) -> tuple[ModelAdapter, dict[str, Any]]:
    """The adapter (wrapped in ``protocols`` when duck-typed) and its results record.

    ``defaults`` (the run's seed and device) go to constructor arguments of those names
    that the user did not set; a default the constructor cannot take is left out, except a
    device the user asked for, which is an error rather than silently ignored.
    """
    factory: Any = request.model
    if isinstance(factory, str):
        registered = factory in registries.models
        factory = registries.models.get(factory)
        if not registered and not inspect.isclass(factory):
            # A `module:attr` that is not registered must name an adapter class: a function
            # (os:system) is refused without being called.
            raise UsageError(f"{role} {request.model!r} is not a class (name an adapter class as module:Class)")
    label = f"{role} {request.adapter_name!r}"
    is_object = not inspect.isclass(factory) and _is_adapter_object(factory, protocols)
    if inspect.isclass(factory) or is_object:
        can = declared_capabilities(factory, protocols)
        if capability not in can:
            raise UsageError(f"{label} cannot do {capability} ({_what_it_is(factory, protocols)})")
    if is_object:
        if request.args:
            raise UsageError(f"{label} is an object already built: it takes no model arguments")
        instance = factory
    else:
        given = dict(defaults or {})
        device = given.get("device")
        if device is not None and "device" not in request.args and not _takes(factory, "device"):
            raise UsageError(f"--device {device}: {label} takes no device argument")
        instance = construct(factory, request.args, label, defaults=given)
    adapter = as_adapter(instance, protocols, capability)
    record: dict[str, Any] = {
        "name": request.name,
        "adapter": request.adapter_name,
        "args": redact(dict(request.args)),
        "fingerprint": adapter.fingerprint(),
    }
    protocol = adapter.protocol()
    if protocol:
        record["protocol"] = protocol
    return adapter, record


def _what_it_is(factory: Any, protocols: Sequence[type[ModelAdapter]]) -> str:
    if isinstance(factory, ModelAdapter) or (inspect.isclass(factory) and issubclass(factory, ModelAdapter)):
        return f"it declares: {', '.join(sorted(factory.capabilities)) or 'nothing'}"
    missing = missing_methods(factory, protocols[0])
    return f"it has no {', '.join(missing)} method; a duck-typed adapter needs every method of {protocols[0].__name__}"


def _is_adapter_object(obj: Any, protocols: Sequence[type[ModelAdapter]]) -> bool:
    """An instance (not a factory): a ModelAdapter, or an object with a protocol's methods."""
    if isinstance(obj, ModelAdapter):
        return True
    return any(all(callable(getattr(obj, m, None)) for m in p.required_methods) for p in protocols)


def _takes(factory: Any, name: str) -> bool:
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
