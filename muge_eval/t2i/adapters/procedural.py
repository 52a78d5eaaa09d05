"""``procedural``: a deterministic keyword baseline, no neural network.

It paints a plain studio background and one product-like shape in the colour its
description names (a fixed table of Chinese colour words; grey when none is named), with
position and size drawn from the item's seed. It is the floor a real generator must beat,
and lets ``muge-eval run`` produce a submission anywhere.
"""

from __future__ import annotations

import hashlib
import random

from PIL import Image, ImageDraw

from muge_eval.fingerprint import text_fingerprint
from muge_eval.t2i.adapters.base import GeneratorAdapter

VERSION = "1"
COLOUR_WORDS = {
    "红": (200, 30, 40),
    "蓝": (30, 70, 190),
    "黑": (25, 25, 25),
    "白": (235, 235, 235),
    "绿": (40, 150, 70),
    "黄": (230, 200, 40),
    "粉": (240, 150, 180),
    "灰": (128, 128, 128),
    "紫": (120, 60, 160),
    "橙": (240, 130, 30),
    "棕": (120, 80, 40),
    "咖啡": (110, 75, 50),
    "米": (230, 220, 190),
}
DEFAULT_COLOUR = (128, 128, 128)


def named_colour(text: str) -> tuple[int, int, int]:
    """The colour of the earliest colour word in ``text``."""
    found = [(text.find(word), colour) for word, colour in COLOUR_WORDS.items() if word in text]
    return min(found)[1] if found else DEFAULT_COLOUR


class ProceduralGenerator(GeneratorAdapter):
    def __init__(self, size: int = 256):
        if size < 8:
            raise ValueError("size must be at least 8")
        self.size = size

    def fingerprint(self) -> str | None:
        return text_fingerprint("procedural", VERSION)

    def protocol(self) -> dict[str, object]:
        return {"size": self.size, "version": VERSION}

    def draw(self, prompt: str, seed: int) -> Image.Image:
        digest = hashlib.sha256(f"{seed}\0{prompt}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "little"))
        size = self.size
        background = tuple(rng.randint(215, 250) for _ in range(3))
        image = Image.new("RGB", (size, size), background)
        draw = ImageDraw.Draw(image)
        colour = named_colour(prompt)
        half = rng.randint(size // 5, size // 3)
        cx, cy = size // 2 + rng.randint(-size // 10, size // 10), size // 2 + rng.randint(-size // 10, size // 10)
        box = (cx - half, cy - half, cx + half, cy + half)
        if rng.random() < 0.5:
            draw.ellipse(box, colour, tuple(max(0, c - 60) for c in colour), 3)
        else:
            draw.rounded_rectangle(box, size // 16, colour, tuple(max(0, c - 60) for c in colour), 3)
        return image

    def generate(self, prompts: list[str], seeds: list[int]) -> list[Image.Image]:
        return [self.draw(p, s) for p, s in zip(prompts, seeds, strict=True)]
