"""Rebuild the bundled MUGE MR sample byte for byte: ``python generate.py [OUT_DIR]``.

Product photos are drawn procedurally (a garment, bag, shoe, cup... in one colour on a
plain studio background) and saved as 224x224 JPEG, the MR image format. Each query names
a colour and a product, and its relevant images are the ones drawn with both. Output:
MR_valid_imgs.tsv (item_id<TAB>base64 JPEG) and MR_valid_queries.jsonl.

Determinism: a fixed seed, a fixed draw order, JPEG quality 85 without optimisation.
Identical bytes need the same Pillow (libjpeg) build; the file SHA256SUMS records the
checksums the committed files were made with.
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

SEED = 20210501
SIZE = 224
COLOURS = {
    "红色": (200, 30, 40),
    "蓝色": (30, 70, 190),
    "黑色": (25, 25, 25),
    "白色": (235, 235, 235),
    "绿色": (40, 150, 70),
    "黄色": (230, 200, 40),
    "粉色": (240, 150, 180),
    "灰色": (128, 128, 128),
}
PRODUCTS = ["连衣裙", "T恤", "运动鞋", "双肩包", "保温杯", "帽子", "手提包", "台灯", "抱枕", "雨伞"]
QUERY_TEMPLATES = ["{c}{p}", "{c}{p}女", "新款{c}{p}", "{c}的{p}", "{p}{c}百搭", "ins风{c}{p}"]
NUM_IMAGES = 320
NUM_QUERIES = 64


def _shape(draw: ImageDraw.ImageDraw, product: str, colour: tuple[int, int, int], rng: random.Random) -> None:
    cx, cy = SIZE // 2 + rng.randint(-12, 12), SIZE // 2 + rng.randint(-12, 12)
    s = rng.randint(55, 80)
    outline = tuple(max(0, c - 60) for c in colour)
    if product in ("连衣裙",):
        draw.polygon(
            [(cx - s // 3, cy - s), (cx + s // 3, cy - s), (cx + s, cy + s), (cx - s, cy + s)], colour, outline
        )
    elif product in ("T恤",):
        draw.polygon(
            [
                (cx - s, cy - s // 2),
                (cx - s // 2, cy - s),
                (cx + s // 2, cy - s),
                (cx + s, cy - s // 2),
                (cx + s // 2, cy - s // 4),
                (cx + s // 2, cy + s),
                (cx - s // 2, cy + s),
                (cx - s // 2, cy - s // 4),
            ],
            colour,
            outline,
        )
    elif product in ("运动鞋",):
        draw.rounded_rectangle([cx - s, cy, cx + s, cy + s // 2], 12, colour, outline, 3)
        draw.rectangle([cx - s, cy + s // 2 - 8, cx + s, cy + s // 2], (245, 245, 245))
    elif product in ("双肩包", "手提包"):
        draw.rounded_rectangle([cx - s // 1.3, cy - s // 1.5, cx + s // 1.3, cy + s], 18, colour, outline, 3)
        draw.arc([cx - s // 2, cy - s * 1.3, cx + s // 2, cy - s // 3], 180, 360, outline, 6)
    elif product in ("保温杯",):
        draw.rounded_rectangle([cx - s // 3, cy - s, cx + s // 3, cy + s], 14, colour, outline, 3)
    elif product in ("帽子",):
        draw.chord([cx - s, cy - s, cx + s, cy + s // 2], 180, 360, colour, outline)
        draw.rectangle([cx - s * 1.2, cy - 6, cx + s * 1.2, cy + 4], colour, outline)
    elif product in ("台灯",):
        draw.polygon(
            [(cx - s // 2, cy - s), (cx + s // 2, cy - s), (cx + s // 1.2, cy - s // 4), (cx - s // 1.2, cy - s // 4)],
            colour,
            outline,
        )
        draw.rectangle([cx - 4, cy - s // 4, cx + 4, cy + s // 1.2], outline)
        draw.ellipse([cx - s // 2, cy + s // 1.3, cx + s // 2, cy + s], colour, outline)
    elif product in ("抱枕",):
        draw.rounded_rectangle([cx - s, cy - s // 1.2, cx + s, cy + s // 1.2], 30, colour, outline, 3)
    else:  # 雨伞
        draw.pieslice([cx - s, cy - s, cx + s, cy + s // 2], 180, 360, colour, outline)
        draw.line([cx, cy - s // 4, cx, cy + s], outline, 4)


def draw_product(product: str, colour: tuple[int, int, int], rng: random.Random) -> bytes:
    background = tuple(rng.randint(215, 250) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 3)):  # studio clutter so images are not trivially separable
        x, y = rng.randint(0, SIZE), rng.randint(0, SIZE)
        draw.ellipse([x - 9, y - 9, x + 9, y + 9], tuple(rng.randint(150, 210) for _ in range(3)))
    _shape(draw, product, colour, rng)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=False)
    return buffer.getvalue()


def build(out_dir: Path) -> dict[str, str]:
    rng = random.Random(SEED)
    colour_names = list(COLOURS)
    images: list[tuple[int, str, str, bytes]] = []
    item_ids = rng.sample(range(100000, 999999), NUM_IMAGES)
    for item_id in item_ids:
        colour, product = rng.choice(colour_names), rng.choice(PRODUCTS)
        images.append((item_id, colour, product, draw_product(product, COLOURS[colour], rng)))
    by_pair: dict[tuple[str, str], list[int]] = {}
    for item_id, colour, product, _ in images:
        by_pair.setdefault((colour, product), []).append(item_id)
    pairs = sorted(p for p, ids in by_pair.items() if len(ids) >= 2)
    rng.shuffle(pairs)
    queries = []
    for number in range(NUM_QUERIES):
        colour, product = pairs[number % len(pairs)]
        text = rng.choice(QUERY_TEMPLATES).format(c=colour, p=product)
        queries.append({"query_id": 8000 + number, "query_text": text, "item_ids": by_pair[(colour, product)]})
    out_dir.mkdir(parents=True, exist_ok=True)
    imgs = out_dir / "MR_valid_imgs.tsv"
    imgs.write_text("".join(f"{i}\t{base64.b64encode(d).decode()}\n" for i, _, _, d in images), encoding="utf-8")
    qs = out_dir / "MR_valid_queries.jsonl"
    qs.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in queries), encoding="utf-8")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (imgs, qs)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for name, digest in build(target).items():
        print(f"{digest}  {name}")
