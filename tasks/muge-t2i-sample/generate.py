"""Rebuild the bundled MUGE T2I sample byte for byte: ``python generate.py [OUT_DIR]``.

Each item is a product (dress, T-shirt, cup, bag, hat, pillow) in one named colour on a
plain studio background, drawn procedurally and saved as a 256x256 PNG; its description
names the colour, the product and a style word. Output: T2I_valid.text.tsv
(img_id<TAB>description) and T2I_valid.img.tsv (img_id<TAB>base64 PNG).

Determinism: a fixed seed and draw order; PNG written by Pillow with default settings
(zlib level 6). Identical bytes need the same Pillow/zlib build; SHA256SUMS records the
checksums the committed files were made with.
"""

from __future__ import annotations

import base64
import hashlib
import io
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SEED = 20210602
SIZE = 256
NUM_ITEMS = 40
COLOURS = {
    "红色": (200, 30, 40),
    "蓝色": (30, 70, 190),
    "黑色": (25, 25, 25),
    "白色": (235, 235, 235),
    "绿色": (40, 150, 70),
    "黄色": (230, 200, 40),
    "粉色": (240, 150, 180),
    "紫色": (120, 60, 160),
}
PRODUCTS = ["连衣裙", "T恤", "保温杯", "手提包", "帽子", "抱枕"]
STYLES = ["简约", "时尚", "韩版", "复古", "百搭", "ins风"]
TEMPLATES = ["{s}{c}{p}", "{c}{p}{s}款", "新款{s}{c}{p}", "{s}风格的{c}{p}"]


def draw(product: str, colour: tuple[int, int, int], rng: random.Random) -> bytes:
    image = Image.new("RGB", (SIZE, SIZE), tuple(rng.randint(215, 250) for _ in range(3)))
    pen = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 3)):
        x, y = rng.randint(0, SIZE), rng.randint(0, SIZE)
        pen.ellipse([x - 10, y - 10, x + 10, y + 10], tuple(rng.randint(150, 210) for _ in range(3)))
    cx, cy, s = SIZE // 2 + rng.randint(-14, 14), SIZE // 2 + rng.randint(-14, 14), rng.randint(60, 90)
    line = tuple(max(0, c - 60) for c in colour)
    if product == "连衣裙":
        pen.polygon([(cx - s // 3, cy - s), (cx + s // 3, cy - s), (cx + s, cy + s), (cx - s, cy + s)], colour, line)
    elif product == "T恤":
        points = [(-1, -0.5), (-0.5, -1), (0.5, -1), (1, -0.5), (0.5, -0.25), (0.5, 1), (-0.5, 1), (-0.5, -0.25)]
        pen.polygon([(cx + x * s, cy + y * s) for x, y in points], colour, line)
    elif product == "保温杯":
        pen.rounded_rectangle([cx - s // 3, cy - s, cx + s // 3, cy + s], 14, colour, line, 3)
    elif product == "手提包":
        pen.rounded_rectangle([cx - s * 0.8, cy - s * 0.6, cx + s * 0.8, cy + s], 18, colour, line, 3)
        pen.arc([cx - s // 2, cy - s * 1.3, cx + s // 2, cy - s // 3], 180, 360, line, 6)
    elif product == "帽子":
        pen.chord([cx - s, cy - s, cx + s, cy + s // 2], 180, 360, colour, line)
        pen.rectangle([cx - s * 1.2, cy - 6, cx + s * 1.2, cy + 4], colour, line)
    else:  # 抱枕
        pen.rounded_rectangle([cx - s, cy - s * 0.8, cx + s, cy + s * 0.8], 30, colour, line, 3)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def build(out_dir: Path) -> dict[str, str]:
    rng = random.Random(SEED)
    ids = [str(i) for i in rng.sample(range(100000, 999999), NUM_ITEMS)]
    texts, images = [], []
    for image_id in ids:
        colour, product, style = rng.choice(list(COLOURS)), rng.choice(PRODUCTS), rng.choice(STYLES)
        texts.append(f"{image_id}\t{rng.choice(TEMPLATES).format(s=style, c=colour, p=product)}\n")
        images.append(f"{image_id}\t{base64.b64encode(draw(product, COLOURS[colour], rng)).decode()}\n")
    out_dir.mkdir(parents=True, exist_ok=True)
    text_path, image_path = out_dir / "T2I_valid.text.tsv", out_dir / "T2I_valid.img.tsv"
    text_path.write_text("".join(texts), encoding="utf-8")
    image_path.write_text("".join(images), encoding="utf-8")
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in (image_path, text_path)}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for name, digest in build(target).items():
        print(f"{digest}  {name}")
