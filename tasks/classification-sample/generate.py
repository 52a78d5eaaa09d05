"""Rebuild the bundled zero-shot classification sample byte for byte: ``python generate.py [OUT_DIR]``.

Ten classes of coloured shapes with Chinese names (红色圆形, 蓝色方块, ...), drawn
procedurally at 64x64 on a light, slightly cluttered background and saved as JPEG, in
Chinese-CLIP's zero-shot layout (the torchvision ImageFolder layout):
``valid/000/*.jpg`` .. ``valid/009/*.jpg`` and ``label_cn.txt`` (line i + 1 names class i).
Classes have 5 to 11 images, so mean per-class recall differs from top-1 accuracy.

Determinism: a fixed seed, a fixed draw order, JPEG quality 85 without optimisation.
Identical bytes need the same Pillow (libjpeg) build; the file SHA256SUMS records the
checksums the committed files were made with.
"""

from __future__ import annotations

import hashlib
import io
import math
import random
import sys
from pathlib import Path

from PIL import Image, ImageDraw

SEED = 20221122
SIZE = 64
SPLIT = "valid"
# (Chinese class name, RGB colour, shape, images in the class)
CLASSES = [
    ("红色圆形", (205, 35, 40), "circle", 8),
    ("蓝色方块", (35, 75, 195), "square", 6),
    ("绿色三角形", (40, 150, 70), "triangle", 10),
    ("黄色星形", (230, 195, 30), "star", 7),
    ("紫色菱形", (130, 50, 160), "diamond", 9),
    ("橙色圆环", (240, 130, 30), "ring", 8),
    ("黑色十字", (25, 25, 25), "cross", 5),
    ("粉色椭圆", (240, 140, 180), "ellipse", 11),
    ("青色条纹", (30, 170, 180), "stripes", 8),
    ("灰色月牙", (120, 120, 120), "crescent", 8),
]


def _star(cx: float, cy: float, r: float) -> list[tuple[float, float]]:
    points = []
    for i in range(10):
        radius = r if i % 2 == 0 else r * 0.45
        angle = math.pi / 2 + i * math.pi / 5
        points.append((cx + radius * math.cos(angle), cy - radius * math.sin(angle)))
    return points


def _shape(
    draw: ImageDraw.ImageDraw,
    shape: str,
    colour: tuple[int, int, int],
    background: tuple[int, ...],
    rng: random.Random,
) -> None:
    cx, cy = SIZE / 2 + rng.randint(-6, 6), SIZE / 2 + rng.randint(-6, 6)
    r = rng.randint(14, 22)
    if shape == "circle":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], colour)
    elif shape == "square":
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], colour)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx + r, cy + r), (cx - r, cy + r)], colour)
    elif shape == "star":
        draw.polygon(_star(cx, cy, r + 4), colour)
    elif shape == "diamond":
        draw.polygon([(cx, cy - r - 4), (cx + r - 4, cy), (cx, cy + r + 4), (cx - r + 4, cy)], colour)
    elif shape == "ring":
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=colour, width=6)
    elif shape == "cross":
        draw.rectangle([cx - r, cy - 5, cx + r, cy + 5], colour)
        draw.rectangle([cx - 5, cy - r, cx + 5, cy + r], colour)
    elif shape == "ellipse":
        draw.ellipse([cx - r - 6, cy - r // 2, cx + r + 6, cy + r // 2], colour)
    elif shape == "stripes":
        for offset in range(-2, 3):
            y = cy + offset * 8
            draw.rectangle([cx - r, y - 2, cx + r, y + 2], colour)
    else:  # crescent: a disc with a background-coloured disc over one side
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], colour)
        draw.ellipse([cx - r + 9, cy - r - 4, cx + r + 9, cy + r - 4], background)


def draw_image(shape: str, colour: tuple[int, int, int], rng: random.Random) -> bytes:
    background = tuple(rng.randint(215, 250) for _ in range(3))
    image = Image.new("RGB", (SIZE, SIZE), background)
    draw = ImageDraw.Draw(image)
    for _ in range(rng.randint(0, 2)):  # clutter, so images of a class are not identical
        x, y = rng.randint(0, SIZE), rng.randint(0, SIZE)
        draw.ellipse([x - 4, y - 4, x + 4, y + 4], tuple(rng.randint(160, 210) for _ in range(3)))
    _shape(draw, shape, colour, background, rng)
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85, optimize=False)
    return buffer.getvalue()


def build(out_dir: Path) -> dict[str, str]:
    rng = random.Random(SEED)
    written: list[Path] = []
    number = 0
    for index, (_, colour, shape, count) in enumerate(CLASSES):
        folder = out_dir / SPLIT / f"{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            number += 1
            path = folder / f"shape_{number:03d}.jpg"
            path.write_bytes(draw_image(shape, colour, rng))
            written.append(path)
    labels = out_dir / "label_cn.txt"
    labels.write_text("".join(f"{name}\n" for name, _, _, _ in CLASSES), encoding="utf-8")
    written.append(labels)
    return {p.relative_to(out_dir).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in written}


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parent
    for name, digest in build(target).items():
        print(f"{digest}  {name}")
