"""The adapter contract: what every model adapter declares, and the embedding protocol.

An adapter declares what it can do in ``capabilities`` (``retrieval``, ``caption``,
``generation``) and implements its protocol's ``required_methods``; every optional hook
is declared here with its default, so the toolkit never probes an adapter for attributes.
Adapters are constructed from ``--model-args k=v`` strings, converted to the types of the
constructor's annotations.

One rule for duck-typed adapters (classes that do not subclass a protocol): an object that
has every required method of a task type's protocol is wrapped in that protocol, and the
wrapper takes any optional hook the object defines under the hook's own name.

The embedding protocol (``RetrievalAdapter``) lives here rather than in the retrieval
package because several task types use it: retrieval, zero-shot classification and the
judges of text-to-image and captioning.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
import numpy.typing as npt

from muge_eval.errors import UsageError

if TYPE_CHECKING:
    from PIL import Image

    from muge_eval.data.image_transform import ImageTransform

RETRIEVAL = "retrieval"
CAPTION = "caption"
GENERATION = "generation"


_PIXELS_WITHOUT_ENCODER = "{name} declares an image_transform but no encode_pixels: define both or neither"


class ModelAdapter(ABC):  # noqa: B024 - the shared contract; each protocol adds its abstract methods
    """Base of all adapters: the hooks every adapter has, with their defaults."""

    capabilities: ClassVar[frozenset[str]] = frozenset()
    # Methods a duck-typed object must have to be wrapped in this protocol.
    required_methods: ClassVar[tuple[str, ...]] = ()
    # Optional hooks a duck-typed object may define (taken by the wrapper when present).
    optional_hooks: ClassVar[tuple[str, ...]] = ("fingerprint", "protocol", "batch_size", "device")
    # Preferred batch size; None: the run's --batch-size.
    batch_size: int | None = None
    # Where the model runs (torch device string); "cpu" for everything else.
    device: str = "cpu"

    def fingerprint(self) -> str | None:
        """A content hash of the checkpoint, when there is one (recorded in results)."""
        return None

    def protocol(self) -> dict[str, Any]:
        """Settings that change the numbers (preprocessing, generation options)."""
        return {}

    def auto_batch_size(self) -> int | None:
        """The largest batch that fits, for ``--batch-size auto``; None: no preference."""
        return None


@dataclass(frozen=True)
class TextBatch:
    ids: Sequence[int | str]
    texts: Sequence[str]


@dataclass(frozen=True)
class ImageBatch:
    """Images of one batch; pixels are decoded only if an adapter asks for them."""

    ids: Sequence[int | str]
    load: Callable[[], list[Image.Image]]

    def images(self) -> list[Image.Image]:
        return self.load()


class RetrievalAdapter(ModelAdapter):
    """Embeds texts and images into one space; the toolkit normalises and ranks."""

    capabilities = frozenset({RETRIEVAL})
    required_methods = ("encode_texts", "encode_images")
    optional_hooks = (
        *ModelAdapter.optional_hooks,
        "encode_text_batch",
        "encode_image_batch",
        "image_transform",
        "encode_pixels",
        "cacheable",
        "topk_device",
    )
    # Embeddings depend only on (fingerprint, protocol, inputs): they may be cached on disk.
    cacheable: bool = False

    @abstractmethod
    def encode_texts(self, texts: list[str]) -> npt.NDArray[np.float32]:
        """(n, d) float32 embeddings of ``texts``."""

    @abstractmethod
    def encode_images(self, images: list[Image.Image]) -> npt.NDArray[np.float32]:
        """(n, d) float32 embeddings of ``images``."""

    # Batch hooks: adapters that need ids (precomputed features) override these.
    def encode_text_batch(self, batch: TextBatch) -> npt.NDArray[np.float32]:
        return self.encode_texts(list(batch.texts))

    def encode_image_batch(self, batch: ImageBatch) -> npt.NDArray[np.float32]:
        return self.encode_images(batch.images())

    def image_transform(self) -> ImageTransform | None:
        """The model's image preprocessing. When given, images reach ``encode_pixels`` as
        uint8 pixels decoded by parallel workers instead of ``encode_images``."""
        return None

    def encode_pixels(self, pixels: Any) -> npt.NDArray[np.float32]:
        """uint8 ``(n, r, r, 3)`` pixels from the decoding workers -> (n, d) float32.

        Called only when ``image_transform`` gives a transform; ``as_adapter`` refuses an
        adapter that gives one without defining this method."""
        raise UsageError(_PIXELS_WITHOUT_ENCODER.format(name=type(self).__name__))

    @property
    def topk_device(self) -> str:
        """Where exact top-k may run on this model's embeddings (a GPU when it has one)."""
        return "cpu"


class _Wrapped:
    """Delegation for duck-typed adapters: required methods and defined hooks come from
    the wrapped object, everything else from the protocol's defaults."""

    _inner: Any

    def __init__(self, inner: Any):
        object.__setattr__(self, "_inner", inner)

    def __getattribute__(self, name: str) -> Any:
        inner = object.__getattribute__(self, "_inner")
        hooks = (*type(self).required_methods, *type(self).optional_hooks)  # type: ignore[attr-defined]
        if name in hooks and hasattr(inner, name):
            return getattr(inner, name)
        return object.__getattribute__(self, name)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} around {object.__getattribute__(self, '_inner')!r}>"


def wrapper_class(protocol: type[ModelAdapter]) -> type[ModelAdapter]:
    """A concrete subclass of ``protocol`` that delegates to a duck-typed object."""
    wrapper = type(f"DuckTyped{protocol.__name__}", (_Wrapped, protocol), {})
    # The abstract methods are the wrapped object's (``as_adapter`` checks it has them), so
    # the class is concrete without bodies of its own.
    setattr(wrapper, "__abstractmethods__", frozenset())  # noqa: B010 - mypy does not know the attribute
    return wrapper


def _defines_pixel_encoder(adapter: RetrievalAdapter) -> bool:
    if isinstance(adapter, _Wrapped):
        return callable(getattr(object.__getattribute__(adapter, "_inner"), "encode_pixels", None))
    return type(adapter).encode_pixels is not RetrievalAdapter.encode_pixels


def check_pixel_contract(adapter: ModelAdapter) -> None:
    """An adapter whose ``image_transform`` gives a transform must define ``encode_pixels``."""
    if not isinstance(adapter, RetrievalAdapter) or adapter.image_transform() is None:
        return
    if not _defines_pixel_encoder(adapter):
        raise UsageError(_PIXELS_WITHOUT_ENCODER.format(name=origin_class(adapter).__name__))


def origin_class(adapter: ModelAdapter) -> type:
    """The class that implements an adapter: the wrapped object's for a duck-typed one."""
    if isinstance(adapter, _Wrapped):
        return type(object.__getattribute__(adapter, "_inner"))
    return type(adapter)


def missing_methods(obj: Any, protocol: type[ModelAdapter]) -> list[str]:
    return [name for name in protocol.required_methods if not callable(getattr(obj, name, None))]


def as_adapter(obj: Any, protocols: Sequence[type[ModelAdapter]], capability: str) -> ModelAdapter:
    """``obj`` as an instance of one of ``protocols``: itself when it subclasses one, else
    wrapped in the first when it has that protocol's required methods."""
    if isinstance(obj, ModelAdapter) and isinstance(obj, tuple(protocols)):
        check_pixel_contract(obj)
        return obj
    if isinstance(obj, ModelAdapter):
        raise UsageError(f"{type(obj).__name__} does not implement the {capability} protocol")
    missing = missing_methods(obj, protocols[0])
    if missing:
        raise UsageError(
            f"{type(obj).__name__} is not a {capability} adapter: it has no {', '.join(missing)} method"
            f" (subclass {protocols[0].__module__}.{protocols[0].__name__})"
        )
    wrapped: ModelAdapter = wrapper_class(protocols[0])(obj)  # type: ignore[call-arg]
    check_pixel_contract(wrapped)
    return wrapped


def declared_capabilities(factory: Any, protocols: Sequence[type[ModelAdapter]] = ()) -> frozenset[str]:
    """What an adapter class (or object) can do: its ``capabilities`` when it subclasses
    ModelAdapter; for a duck-typed one, the capabilities of the given protocols whose
    required methods it has."""
    if (isinstance(factory, type) and issubclass(factory, ModelAdapter)) or isinstance(factory, ModelAdapter):
        return frozenset(factory.capabilities)
    inferred: set[str] = set()
    for protocol in protocols:
        if not missing_methods(factory, protocol):
            inferred |= protocol.capabilities
    return frozenset(inferred)
