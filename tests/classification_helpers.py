"""Builders for tiny classification data in Chinese-CLIP's zero-shot layout, and plain
re-implementations of the metrics, shared by the classification tests."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from retrieval_helpers import jpeg_bytes

SAMPLE = Path(__file__).resolve().parents[1] / "tasks" / "classification-sample"
SAMPLE_CARD = SAMPLE.parent / "classification-sample.yaml"


def make_image_folder(
    directory: Path,
    class_names: Sequence[str],
    counts: Sequence[int],
    split: str = "valid",
    label_file: str = "label_cn.txt",
) -> list[tuple[str, int]]:
    """``split/000/img_000.jpg ...`` and the label file; (image id, class) in ImageFolder order."""
    images: list[tuple[str, int]] = []
    number = 0
    for index, count in enumerate(counts):
        folder = directory / split / f"{index:03d}"
        folder.mkdir(parents=True, exist_ok=True)
        for _ in range(count):
            name = f"img_{number:03d}.jpg"
            colour = ((number * 37) % 256, (index * 91) % 256, (number * 53) % 256)
            (folder / name).write_bytes(jpeg_bytes(colour, 24))
            images.append((f"{index:03d}/{name}", index))
            number += 1
    (directory / label_file).write_text("".join(f"{n}\n" for n in class_names), encoding="utf-8")
    return images


def write_card(path: Path, data_dir: Path, templates: Sequence[str], **extra: str) -> Path:
    """A classification card for ``data_dir`` (split ``valid``)."""
    lines = [
        "name: tiny-classification",
        "type: classification",
        "data:",
        "  format: image-folder",
        "  source: local",
        f"  location: {data_dir}",
        "splits: [valid]",
        "options:",
        "  templates:",
        *(f'    - "{t}"' for t in templates),
        *(f"  {k}: {v}" for k, v in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sample_labels() -> dict[str, int]:
    """The bundled sample's classes, read the plain way: folder ``NNN`` is class NNN."""
    return {p.relative_to(SAMPLE / "valid").as_posix(): int(p.parent.name) for p in (SAMPLE / "valid").rglob("*.jpg")}


def reference_metrics(labels: Mapping[str, int], predictions: Mapping[str, Sequence[int]]) -> dict[str, float]:
    """Top-1, top-5 and mean per-class recall by brute force: loops and a confusion matrix."""
    ids = list(labels)
    top1 = sum(1 for i in ids if predictions[i][0] == labels[i])
    top5 = sum(1 for i in ids if labels[i] in list(predictions[i])[:5])
    classes = sorted(set(labels.values()))
    confusion: dict[tuple[int, int], int] = {}
    for i in ids:
        key = (labels[i], predictions[i][0])
        confusion[key] = confusion.get(key, 0) + 1
    recalls = []
    for c in classes:
        row_total = sum(v for (true, _), v in confusion.items() if true == c)
        recalls.append(confusion.get((c, c), 0) / row_total)
    return {
        "top1": 100.0 * top1 / len(ids),
        "top5": 100.0 * top5 / len(ids),
        "mean_per_class_recall": 100.0 * sum(recalls) / len(recalls),
    }
