"""T2I submissions: the official TSV (``img_id<TAB>base64 PNG``) or a directory of
``<img_id>.png``. Checking reads every image's header and verifies its data without
keeping pixels; scoring reads them again by id (byte offsets into the TSV)."""

from __future__ import annotations

import binascii
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from muge_eval.errors import InputError, Problem, ProblemList, UsageError
from muge_eval.io.image_tsv import decode_base64, open_image
from muge_eval.io.pixels import image_problem

MAX_LISTED_IDS = 20


@dataclass(frozen=True)
class T2ISubmission:
    path: Path
    kind: str  # "tsv" or "dir"
    # id -> byte offset of its TSV line (tsv) or file name (dir)
    entries: Mapping[str, int | str]

    def raw_bytes(self, image_id: str) -> bytes:
        """The submitted file's bytes of one image."""
        if self.kind == "dir":
            return (self.path / str(self.entries[image_id])).read_bytes()
        with self.path.open("rb") as handle:
            handle.seek(int(self.entries[image_id]))
            raw = handle.readline().decode("utf-8").rstrip("\r\n").removeprefix("\ufeff")
        return decode_base64(raw.partition("\t")[2])

    def iter_images(self, ids: Sequence[str] | None = None) -> Iterator[tuple[str, Image.Image]]:
        """(id, image) pairs in the order of ``ids`` (default: sorted ids)."""
        for image_id in sorted(self.entries) if ids is None else ids:
            yield image_id, open_image(self.raw_bytes(image_id), f"{self.path} (img_id {image_id})")


def parse_image_size(value: object) -> tuple[int, int] | None:
    """``256`` / ``"256x256"`` -> (256, 256); ``any`` / ``None`` -> no size check."""
    if value is None or str(value).lower() in ("any", "none", ""):
        return None
    text = str(value).lower()
    try:
        if "x" in text:
            width, height = (int(p) for p in text.split("x", 1))
        else:
            width = height = int(text)
    except ValueError as exc:
        raise UsageError(f"image_size must be N, WxH or any, got {value!r}") from exc
    if width < 1 or height < 1:
        raise UsageError(f"image_size must be positive, got {value!r}")
    return width, height


def check_image_bytes(data: bytes, size: tuple[int, int] | None) -> str | None:
    """What is wrong with one submitted image, or None: a PNG of the expected size whose
    every pixel decodes (within the pixel limit)."""
    return image_problem(data, "PNG", size)


def _read_tsv(
    path: Path, gold_ids: set[str], size: tuple[int, int] | None, problems: ProblemList, seen: set[str]
) -> dict[str, int]:
    """id -> byte offset of its line."""
    entries: dict[str, int] = {}
    first_line: dict[str, int] = {}
    unknown: list[tuple[str, int]] = []
    try:
        handle = path.open("rb")
    except OSError as exc:
        raise InputError([Problem(str(path), f"cannot read: {exc.strerror}")], "missing file") from exc
    with handle:
        offset = 0
        for number, raw_bytes in enumerate(handle, start=1):
            line_offset, offset = offset, offset + len(raw_bytes)
            try:
                raw = raw_bytes.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError:
                problems.add("not UTF-8 text", number)
                continue
            raw = raw.removeprefix("\ufeff") if number == 1 else raw
            if not raw:
                problems.add("blank line", number)
                continue
            image_id, tab, payload = raw.partition("\t")
            image_id = image_id.strip()
            if not tab or not image_id:
                problems.add("expected 'img_id<TAB>base64 PNG'", number)
                continue
            if image_id in first_line:
                problems.add(f"img_id {image_id} repeats line {first_line[image_id]}", number, "img_id")
                continue
            first_line[image_id] = number
            seen.add(image_id)
            if image_id not in gold_ids:
                unknown.append((image_id, number))
                continue
            try:
                data = decode_base64(payload)
            except (binascii.Error, ValueError):
                problems.add("not valid base64", number, "image")
                continue
            wrong = check_image_bytes(data, size)
            if wrong:
                problems.add(wrong, number, "image")
                continue
            entries[image_id] = line_offset
    for image_id, number in unknown:
        problems.add(f"img_id {image_id!r} is not in the gold descriptions", number, "img_id")
    return entries


def _read_dir(
    path: Path, gold_ids: set[str], size: tuple[int, int] | None, problems: ProblemList, seen: set[str]
) -> dict[str, str]:
    entries: dict[str, str] = {}
    for file in sorted(path.iterdir()):
        if file.name.startswith("."):
            continue
        # Each problem names the image file itself, as file: field: message.
        if not file.is_file() or file.suffix.lower() != ".png":
            problems.problems.append(Problem(str(file), "expected only <img_id>.png files in the folder"))
            continue
        image_id = file.stem
        seen.add(image_id)
        if image_id not in gold_ids:
            problems.problems.append(Problem(str(file), "this img_id is not in the gold descriptions", field="img_id"))
            continue
        wrong = check_image_bytes(file.read_bytes(), size)
        if wrong:
            problems.problems.append(Problem(str(file), wrong, field="image"))
            continue
        entries[image_id] = file.name
    return entries


def read_submission(path: Path, gold_ids: tuple[str, ...], size: tuple[int, int] | None) -> T2ISubmission:
    """Check every image; raise one InputError listing every problem."""
    if not path.exists():
        raise InputError([Problem(str(path), "submission not found")], "missing file")
    problems = ProblemList(str(path))
    wanted = set(gold_ids)
    seen: set[str] = set()
    if path.is_dir():
        entries: Mapping[str, int | str] = _read_dir(path, wanted, size, problems, seen)
        kind = "dir"
    elif not path.is_file():  # a FIFO would block the read for ever
        raise InputError([Problem(str(path), "submission is not a regular file or a folder")], "invalid submission")
    else:
        entries = _read_tsv(path, wanted, size, problems, seen)
        kind = "tsv"
    missing = [i for i in gold_ids if i not in seen]
    if missing:
        shown = ", ".join(missing[:MAX_LISTED_IDS]) + (" ..." if len(missing) > MAX_LISTED_IDS else "")
        problems.add(f"{len(missing)} gold img_id(s) have no image: {shown}", field_name="img_id")
    problems.raise_if_any(f"invalid T2I submission {path.name}")
    return T2ISubmission(path, kind, entries)
