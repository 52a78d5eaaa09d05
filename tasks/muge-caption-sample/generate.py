"""Rebuild the bundled MUGE ECommerce-IC sample byte for byte: ``python generate.py [OUT_DIR]``.

Each image is a procedurally drawn product (a dress, T-shirt, bag, cup, hat, lamp,
cushion or umbrella in one colour, with a pattern, on a studio background) saved as a
256x256 JPEG. Its reference captions are several different Chinese sentences about the
same colour, product and pattern, written from templates the way MUGE's e-commerce copy
reads. Output: IC_valid.tsv (32-hex image_id<TAB>base64 JPEG) and IC_valid.jsonl
(``{"image_id": ..., "text": [references]}``).

Determinism: a fixed seed, a fixed draw order, JPEG quality 85 without optimisation.
Identical bytes need the same Pillow (libjpeg) build; SHA256SUMS records the checksums of
the committed files.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SEED = 20210610
SIZE = 256
NUM_IMAGES = 48
REFS_PER_IMAGE = (3, 6)
COLOURS = {
    "红色": (200, 30, 40),
    "蓝色": (30, 70, 190),
    "黑色": (25, 25, 25),
    "白色": (240, 240, 240),
    "绿色": (40, 150, 70),
    "黄色": (230, 200, 40),
    "粉色": (240, 150, 180),
}
PRODUCTS = ["连衣裙", "T恤", "手提包", "保温杯", "帽子", "台灯", "抱枕", "雨伞"]
PATTERNS = {"纯色": "plain", "条纹": "stripes", "波点": "dots", "格子": "checks"}
TEMPLATES = [
    "{c}{pat}{p}，简约百搭，日常出行都好看",
    "这款{p}采用{c}设计，{pat}图案显得时尚大方",
    "{pat}{c}{p}，品质优良，送人自用两相宜",
    "经典{c}{p}，{pat}款式，彰显个性品味",
    "时尚{p}，{c}配色搭配{pat}元素，质感出众",
    "简约{c}{pat}{p}，轻松打造精致生活",
    "{c}的{p}，{pat}风格，让你每天好心情",
    "一款{pat}的{c}{p}，舒适实用，性价比高",
]


def _pattern(draw: ImageDraw.ImageDraw, box: tuple[int, int, int, int], kind: str, ink: tuple[int, ...]) -> None:
    left, top, right, bottom = box
    if kind == "stripes":
        for y in range(top + 6, bottom, 14):
            draw.line([(left, y), (right, y)], ink, 4)
    elif kind == "dots":
        for y in range(top + 8, bottom - 4, 18):
            for x in range(left + 8, right - 4, 18):
                draw.ellipse([x - 3, y - 3, x + 3, y + 3], ink)
    elif kind == "checks":
        for y in range(top, bottom, 16):
            draw.line([(left, y), (right, y)], ink, 2)
        for x in range(left, right, 16):
            draw.line([(x, top), (x, bottom)], ink, 2)


def draw_product(product: str, colour: tuple[int, int, int], pattern: str, rng: random.Random) -> bytes:
    background = tuple(rng.randint(215, 250) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    cx, cy = SIZE // 2 + rng.randint(-10, 10), SIZE // 2 + rng.randint(-10, 10)
    s = rng.randint(60, 85)
    outline = tuple(max(0, c - 70) for c in colour)
    ink = tuple(255 - c for c in colour)
    if product == "连衣裙":
        draw.polygon([(cx - s // 3, cy - s), (cx + s // 3, cy - s), (cx + s, cy + s), (cx - s, cy + s)], colour, outline)
    elif product == "T恤":
        draw.polygon(
            [(cx - s, cy - s // 2), (cx - s // 2, cy - s), (cx + s // 2, cy - s), (cx + s, cy - s // 2),
             (cx + s // 2, cy - s // 4), (cx + s // 2, cy + s), (cx - s // 2, cy + s), (cx - s // 2, cy - s // 4)],
            colour, outline,
        )  # fmt: skip
    elif product == "手提包":
        draw.rounded_rectangle([cx - s, cy - s // 2, cx + s, cy + s], 16, colour, outline, 3)
        draw.arc([cx - s // 2, cy - s * 1.2, cx + s // 2, cy - s // 4], 180, 360, outline, 6)
    elif product == "保温杯":
        draw.rounded_rectangle([cx - s // 3, cy - s, cx + s // 3, cy + s], 14, colour, outline, 3)
    elif product == "帽子":
        draw.chord([cx - s, cy - s, cx + s, cy + s // 2], 180, 360, colour, outline)
        draw.rectangle([cx - s * 1.2, cy - 6, cx + s * 1.2, cy + 4], colour, outline)
    elif product == "台灯":
        draw.polygon([(cx - s // 2, cy - s), (cx + s // 2, cy - s), (cx + s, cy - s // 4), (cx - s, cy - s // 4)],
                     colour, outline)  # fmt: skip
        draw.rectangle([cx - 4, cy - s // 4, cx + 4, cy + s], outline)
    elif product == "抱枕":
        draw.rounded_rectangle([cx - s, cy - s // 1.2, cx + s, cy + s // 1.2], 30, colour, outline, 3)
    else:  # 雨伞
        draw.pieslice([cx - s, cy - s, cx + s, cy + s // 2], 180, 360, colour, outline)
        draw.line([cx, cy - s // 4, cx, cy + s], outline, 4)
    _pattern(draw, (cx - s // 2, cy - s // 3, cx + s // 2, cy + s // 2), pattern, ink)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=False)
    return buffer.getvalue()


def build(out_dir: Path) -> dict[str, str]:
    rng = random.Random(SEED)
    images: list[tuple[str, bytes]] = []
    gold: list[dict[str, object]] = []
    for number in range(NUM_IMAGES):
        colour = rng.choice(list(COLOURS))
        product = rng.choice(PRODUCTS)
        pattern = rng.choice(list(PATTERNS))
        image_id = hashlib.md5(f"{SEED}-{number}".encode()).hexdigest()
        images.append((image_id, draw_product(product, COLOURS[colour], PATTERNS[pattern], rng)))
        count = rng.randint(*REFS_PER_IMAGE)
        templates = rng.sample(TEMPLATES, count)
        refs = [t.format(c=colour, p=product, pat=pattern) for t in templates]
        gold.append({"image_id": image_id, "text": refs})
    out_dir.mkdir(parents=True, exist_ok=True)
    tsv = out_dir / "IC_valid.tsv"
    tsv.write_text("".join(f"{i}\t{base64.b64encode(d).decode()}\n" for i, d in images), encoding="utf-8")
    jsonl = out_dir / "IC_valid.jsonl"
    jsonl.write_text("".join(json.dumps(g, ensure_ascii=False) + "\n" for g in gold), encoding="utf-8")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (tsv, jsonl)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for name, digest in build(target).items():
        print(f"{digest}  {name}")
