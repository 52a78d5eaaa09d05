"""How each task type's per-sample records look in a gallery, looked up by type name.

A hook turns one record into texts, pictures (by image id) and fields; a type whose runs
make images (text-to-image) also reads them from the run's folder when it is submitted.
A type without a hook (a plugin, classification) gets the generic view: the record's
fields as text, and its image when the record names one (``image_id``/``img_id``).
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from muge_eval.leaderboard.gallery.model import FROM_RUN, ItemView, Picture, TextBlock
from muge_eval.leaderboard.gallery.select import item_key

MAX_FIELDS = 16
MAX_FIELD_TEXT = 240
TOP_SHOWN = 5
IMAGE_FIELDS = ("image_id", "img_id")


def _text(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_FIELD_TEXT else text[: MAX_FIELD_TEXT - 1] + "…"


def _items(value: Any) -> list[Any]:
    """A record's list field, or nothing when it is not a list."""
    return value if isinstance(value, list) else []


def _id(value: Any) -> str | None:
    return str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None


class GalleryHook:
    """The generic view; task types with pictures to show override ``view``."""

    makes_images = False

    def view(self, sample: Mapping[str, Any], key_field: str | None) -> ItemView:
        pictures = tuple(Picture("image", i) for f in IMAGE_FIELDS if (i := _id(sample.get(f))) is not None)[:1]
        fields = tuple((str(k), _text(v)) for k, v in list(sample.items())[:MAX_FIELDS])
        return ItemView(item_key(sample, key_field), pictures=pictures, fields=fields)

    def run_images(self, document: Mapping[str, Any], results_path: Path, ids: Collection[str]) -> dict[str, bytes]:
        """Images the run made for ``ids`` (read from its folder when it is submitted)."""
        return {}


class RetrievalGallery(GalleryHook):
    """A text query with its top-5 images (relevant ones marked), or an image query with
    its top-5 text ids."""

    def view(self, sample: Mapping[str, Any], key_field: str | None) -> ItemView:
        predicted = [i for p in _items(sample.get("predicted")) if (i := _id(p)) is not None]
        relevant = {i for r in _items(sample.get("relevant")) if (i := _id(r)) is not None}
        first = next((rank for rank, p in enumerate(predicted[:10], 1) if p in relevant), None)
        fields = (("relevant items", str(len(relevant))), ("first relevant rank", str(first) if first else "—"))
        query = _id(sample.get("query_id")) or ""
        if sample.get("direction") == "image_to_text":
            lines = tuple(f"{'✓' if p in relevant else '✗'} #{r} · {p}" for r, p in enumerate(predicted[:TOP_SHOWN], 1))
            return ItemView(query, (TextBlock("top 5", lines),), (Picture("query image", query),), fields)
        texts = (TextBlock("query", (str(sample["query_text"]),)),) if isinstance(sample.get("query_text"), str) else ()
        pictures = [
            Picture("result", p, f"#{rank} · {p}", marked=p in relevant)
            for rank, p in enumerate(predicted[:TOP_SHOWN], 1)
        ]
        missed = sorted(relevant - set(predicted[:TOP_SHOWN]))
        if missed and not any(p.marked for p in pictures):
            pictures.append(Picture("relevant, not in the top 5", missed[0], missed[0], marked=True))
        return ItemView(query, texts, tuple(pictures), fields)


class CaptionGallery(GalleryHook):
    """The image, the model's caption and the references."""

    def view(self, sample: Mapping[str, Any], key_field: str | None) -> ItemView:
        image = _id(sample.get("image_id")) or ""
        caption = sample.get("caption")
        references = [r for r in _items(sample.get("references")) if isinstance(r, str)]
        texts = (
            TextBlock("caption", (caption if isinstance(caption, str) else "—",)),
            TextBlock("references", tuple(references) or ("—",)),
        )
        return ItemView(image, texts, (Picture("image", image),) if image else ())


class T2IGallery(GalleryHook):
    """The prompt, the generated image and the real one."""

    makes_images = True

    def view(self, sample: Mapping[str, Any], key_field: str | None) -> ItemView:
        image = _id(sample.get("img_id")) or ""
        prompt = sample.get("description")
        texts = (TextBlock("prompt", (prompt,)),) if isinstance(prompt, str) else ()
        pictures = (Picture("generated", image, origin=FROM_RUN), Picture("real image", image)) if image else ()
        return ItemView(image, texts, pictures)

    def run_images(self, document: Mapping[str, Any], results_path: Path, ids: Collection[str]) -> dict[str, bytes]:
        from muge_eval.leaderboard.gallery.images import read_tsv_images

        files = document.get("files") or {}
        folder = results_path.parent.resolve()
        found: dict[str, bytes] = {}
        for role, name in sorted(files.items()):
            if not role.startswith("predictions") or not isinstance(name, str):
                continue
            path = (folder / name).resolve()
            if path.parent != folder or not path.is_file():
                continue
            found.update(read_tsv_images([path], set(ids) - set(found)))
        return found


HOOKS: Mapping[str, type[GalleryHook]] = {
    "retrieval": RetrievalGallery,
    "caption": CaptionGallery,
    "t2i": T2IGallery,
}


def gallery_hook(task_type: str) -> GalleryHook:
    """The hook of ``task_type``; the generic one for a type without its own."""
    return HOOKS.get(task_type, GalleryHook)()
