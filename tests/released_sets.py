"""Tiny data sets in each released format of the Chinese retrieval suite, written the way
each release lays its files out (see the cards and muge_eval/retrieval/released.py)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from retrieval_helpers import jpeg_bytes

CAPTIONS = ["一只猫坐在桌子上", "两个人在海边散步", "一辆红色的公交车", "厨房里的微波炉", "草地上的小狗, 在奔跑"]


def _image(folder: Path, name: str, number: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(jpeg_bytes(((number * 37) % 256, (number * 91) % 256, (number * 53) % 256), 24))


def _caption(image: int, n: int) -> str:
    return f"{CAPTIONS[(image + n) % len(CAPTIONS)]}{image}号{n}"


def coco_names(count: int) -> list[str]:
    return [f"COCO_{'val' if i % 2 else 'train'}2014_{100000 + 17 * i:012d}.jpg" for i in range(count)]


def coco_cn_flageval(
    root: Path, count: int = 12, per_image: int = 1, file: str = "coco_captions_cn_test_1k.txt"
) -> Path:
    rows = ["image,caption"]
    for i, name in enumerate(coco_names(count)):
        _image(root / ("val2014" if "val" in name else "train2014"), name, i)
        rows += [f"{name},{_caption(i, n)}" for n in range(per_image + (i % 2 if per_image == 1 else 0))]
    (root / file).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def coco_cn_5k_fgclip(root: Path, count: int = 12) -> Path:
    lines = []
    for i, name in enumerate(coco_names(count)):
        _image(root / "Images", name, i)
        lines += [f"{name[:-4]}#zhm#{n} {_caption(i, n)}" for n in range(5)]
    (root / "pair.txt").write_text("\n".join(lines), encoding="utf-8")  # no newline at the end, as released
    return root


def flickr30k_cna_r2d2(root: Path, count: int = 12) -> Path:
    lines = []
    for i in range(count):
        _image(root / "Flickr30k-images", f"{1000092795 + 7 * i}.jpg", i)
        lines += [f"{1000092795 + 7 * i}#{n}\t{_caption(i, n)}" for n in range(5)]
    (root / "test").mkdir(parents=True, exist_ok=True)
    (root / "test" / "flickr30k_cna_test.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def flickr30k_cna_flageval(root: Path, count: int = 12) -> Path:
    rows = ["image,caption"]
    for i in range(count):
        _image(root / "Images", f"{2000 + i}.jpg", i)
        rows += [f"{2000 + i}.jpg,{_caption(i, n)}" for n in range(2)]
    (root / "flickr30k_test_CNA.txt").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return root


def aic_icc(root: Path, count: int = 14) -> Path:
    images = root / "caption_validation_images_20170910"
    entries = []
    for i in range(count):
        name = f"{i:040x}"[-40:].replace("0", "a", 3) + ".jpg"
        _image(images, name, i)
        entries.append({"url": f"http://example.invalid/{i}.jpg", "image_id": name,
                        "caption": [_caption(i, n) for n in range(5)]})  # fmt: skip
    (root / "caption_validation_annotations_20170910.json").write_text(json.dumps(entries, ensure_ascii=False))
    return root


def xm3600(root: Path, count: int = 12) -> Path:
    lines = []
    for i in range(count):
        key = f"{0x411001FF7DD4F + 31 * i:016x}"
        _image(root / "images", f"{key}.jpg", i)
        entry = {"image/key": key, "en": {"caption": ["a cat"]}, "zh": {"caption": [_caption(i, n) for n in range(2)]}}
        lines.append(json.dumps(entry, ensure_ascii=False))
    (root / "captions.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def xtd10(root: Path, count: int = 12) -> Path:
    names = [f"COCO_train2014_{61844 + 5 * i:012d}.jpg" for i in range(count)]
    for i, name in enumerate(names):
        _image(root / "images", name, i)
    (root / "test_image_names.txt").write_text("\n".join(names) + "\n", encoding="utf-8")
    (root / "test_1kcaptions_zh.txt").write_text("\n".join(_caption(i, 0) for i in range(count)), encoding="utf-8")
    return root


def long_captions(annotations: str) -> Callable[[Path], Path]:
    def make(root: Path, count: int = 12) -> Path:
        lines = []
        for i in range(count):
            _image(root / "images", f"{i:04d}.jpg", i)
            lines.append(f"images/{i:04d}.jpg\t{_caption(i, 0) * 8}")
        (root / annotations).write_text("\n".join(lines) + "\n", encoding="utf-8")
        return root

    return make


# card -> (maker, split, number of texts, number of images) of each tiny set.
TINY_SETS: dict[str, tuple[Callable[[Path], Path], str, int, int]] = {
    "coco-cn-retrieval": (coco_cn_flageval, "test", 18, 12),
    "coco-cn-5k-retrieval": (coco_cn_5k_fgclip, "test", 60, 12),
    "flickr30k-cna-retrieval": (flickr30k_cna_r2d2, "test", 60, 12),
    "aic-icc-retrieval": (aic_icc, "valid", 70, 14),
    "xm3600-zh-retrieval": (xm3600, "test", 24, 12),
    "xtd10-zh-retrieval": (xtd10, "test", 12, 12),
    "lit-cn-retrieval": (long_captions("image_caption_long_cn.txt"), "test", 12, 12),
    "dci-cn-retrieval": (long_captions("image_caption_trans.txt"), "test", 12, 12),
    "docci-cn-retrieval": (long_captions("image_caption_trans.txt"), "test", 12, 12),
}
