"""Field names of the two retrieval file layouts and of each ranking direction."""

from __future__ import annotations

from dataclasses import dataclass

TOP_K = 10


@dataclass(frozen=True)
class DirectionFields:
    """Keys of a submission line for one direction; each tuple lists accepted spellings,
    the first being the one we write."""

    direction: str
    query_keys: tuple[str, ...]
    list_keys: tuple[str, ...]
    query_kind: str
    target_kind: str


TEXT_TO_IMAGE = DirectionFields("text_to_image", ("query_id", "text_id"), ("item_ids", "image_ids"), "text", "image")
IMAGE_TO_TEXT = DirectionFields("image_to_text", ("image_id",), ("text_ids",), "image", "text")

DIRECTION_FIELDS = {d.direction: d for d in (TEXT_TO_IMAGE, IMAGE_TO_TEXT)}

# Query file keys: original MUGE release, then the Chinese-CLIP repackaging.
QUERY_ID_KEYS = ("query_id", "text_id")
QUERY_TEXT_KEYS = ("query_text", "text")
QUERY_RELEVANT_KEYS = ("item_ids", "image_ids")


@dataclass(frozen=True)
class Layout:
    """File names of one layout for one split."""

    name: str
    images: str
    texts: str


def layouts_for(split: str) -> tuple[Layout, ...]:
    return (
        Layout("muge", f"MR_{split}_imgs.tsv", f"MR_{split}_queries.jsonl"),
        Layout("chinese-clip", f"{split}_imgs.tsv", f"{split}_texts.jsonl"),
    )
