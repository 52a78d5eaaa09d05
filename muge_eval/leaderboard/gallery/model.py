"""What a gallery page shows of one item, whatever the task type: texts, pictures, fields."""

from __future__ import annotations

from dataclasses import dataclass

# Where a picture comes from: the task's data (by item id) or the run itself (generated).
FROM_DATA = "data"
FROM_RUN = "run"


@dataclass(frozen=True)
class Picture:
    """One image of an item; ``role`` and ``note`` are translated by the page."""

    role: str
    image_id: str
    caption: str = ""
    marked: bool = False
    origin: str = FROM_DATA


@dataclass(frozen=True)
class TextBlock:
    label: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class ItemView:
    """What a task type's gallery hook makes of one per-sample record."""

    title: str
    texts: tuple[TextBlock, ...] = ()
    pictures: tuple[Picture, ...] = ()
    fields: tuple[tuple[str, str], ...] = ()
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Shown:
    """A picture as placed on the site: its thumbnail (empty when there is none)."""

    picture: Picture
    src: str = ""
    width: int = 0
    height: int = 0


@dataclass(frozen=True)
class GalleryItem:
    """One chosen item: why it was chosen, its score, and what the hook made of it."""

    why: tuple[str, ...]
    score: float | None
    view: ItemView
    shown: tuple[Shown, ...]
