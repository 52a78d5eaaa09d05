"""Gold labels of a classification split: an ImageFolder and a file of class names.

The layout is the one Chinese-CLIP's ``zeroshot_evaluation`` and its ELEVATER datasets use:
``<data-dir>/<split>/<class folder>/<image files>`` and ``<data-dir>/label_cn.txt`` with
one class name per line. Classes and images are found exactly as torchvision's
``ImageFolder`` finds them, which is what Chinese-CLIP reads with:

- class folders: every directory entry of the split folder (hidden ones too), sorted by
  name; a class's index is its folder's position in that order, and line ``index + 1`` of
  the label file names it (Chinese-CLIP names the folders ``000``, ``001``, ... so the two
  orders agree);
- images: per class, ``sorted(os.walk(folder, followlinks=True))`` and sorted file names,
  keeping files whose lower-cased name ends with an image extension; a class folder with
  none is an error, as in torchvision.

Where torchvision would hang, loop or fail later, the folder is refused up front, naming
the path: a folder reached twice within one class (a symlink loop, which os.walk follows
until the path is too long, or two links to one folder: the same images counted twice;
with a few such links the walk never ends), an image that is not a regular file (a FIFO
blocks its reader forever; a broken symlink cannot be read), a file name that is not
UTF-8 (an id no submission or results file can hold) and a folder that cannot be listed
(os.walk would skip it without a word). The label file is read as Chinese-CLIP reads it
(one name per line, stripped); a byte-order mark after the first character, a control
character or a name over ``MAX_CLASS_NAME_CHARS`` characters (every name is copied into
one prompt per template) is refused with its line.

An image's id is its path relative to the split folder (``000/ILSVRC2012_val_00000293.JPEG``).
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from muge_eval.errors import InputError, Problem, ProblemList
from muge_eval.io.jsonl import open_text

# torchvision.datasets.folder.IMG_EXTENSIONS
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")
DEFAULT_LABEL_FILE = "label_cn.txt"
# Far longer than any class name (ImageNet's longest Chinese name has 18 characters).
MAX_CLASS_NAME_CHARS = 1000
# A byte-order mark past the file's start (files joined together) or a control character.
_HIDDEN_CHARACTER = re.compile("[\ufeff\x00-\x08\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class ClassificationGold:
    """The images of a split in ImageFolder order, their class indices and the class names."""

    root: str
    image_ids: tuple[str, ...]
    labels: tuple[int, ...]
    class_folders: tuple[str, ...]
    class_names: tuple[str, ...]
    label_file: str
    # Files in class folders without an image extension (ImageFolder leaves them out too).
    skipped_files: int = 0

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def first(self, count: int | None) -> ClassificationGold:
        """The first ``count`` images (``--limit``); the classes stay whole."""
        if count is None:
            return self
        return ClassificationGold(
            self.root,
            self.image_ids[:count],
            self.labels[:count],
            self.class_folders,
            self.class_names,
            self.label_file,
            self.skipped_files,
        )

    def without(self, dropped: set[str]) -> ClassificationGold:
        """The images not in ``dropped`` (undecodable images left out by --skip-bad-images)."""
        kept = [(i, label) for i, label in zip(self.image_ids, self.labels, strict=True) if i not in dropped]
        return ClassificationGold(
            self.root,
            tuple(i for i, _ in kept),
            tuple(label for _, label in kept),
            self.class_folders,
            self.class_names,
            self.label_file,
            self.skipped_files,
        )

    def notes(self) -> list[str]:
        """Remarks a reader of the results should see about this data."""
        notes = []
        if self.skipped_files:
            notes.append(
                f"{self.skipped_files} file(s) in class folders have no image extension and were left out"
                " (as torchvision's ImageFolder does)"
            )
        if all(f.isdigit() for f in self.class_folders) and [int(f) for f in self.class_folders] != list(
            range(len(self.class_folders))
        ):
            notes.append(
                "class folders are numbers that are not 0..n-1 in sorted order (pad them, e.g. 000, 001, ...):"
                " class indices follow the sorted folder names, as in torchvision's ImageFolder"
            )
        positions: dict[str, list[int]] = {}
        for index, name in enumerate(self.class_names):
            positions.setdefault(name, []).append(index)
        repeated = {n: p for n, p in positions.items() if len(p) > 1}
        if repeated:
            shown = "; ".join(f"{n} (classes {', '.join(map(str, p))})" for n, p in list(repeated.items())[:10])
            notes.append(f"{len(repeated)} class name(s) repeat, so their prompts are identical: {shown}")
        return notes


def read_class_names(path: Path) -> tuple[str, ...]:
    """One class name per line (``\n``, ``\r\n`` or ``\r``), stripped as Chinese-CLIP strips
    them; a blank line is an error (it would be a class without a name)."""
    # Universal newlines, as Chinese-CLIP's open(...).readlines() reads it.
    text = open_text(path, "label file").replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    problems = ProblemList(str(path))
    names = []
    for number, raw in enumerate(lines, start=1):
        name = raw.strip()
        hidden = _HIDDEN_CHARACTER.search(name)
        if not name:
            problems.add("blank line: every line names one class", number)
        elif len(name) > MAX_CLASS_NAME_CHARS:
            problems.add(f"a class name of {len(name):,} characters (at most {MAX_CLASS_NAME_CHARS:,})", number)
        elif hidden is not None:
            found = hidden.group()
            if found == "\ufeff":
                problems.add("a byte-order mark (U+FEFF) after the file's start: files joined together?", number)
            else:
                problems.add(f"a control character (U+{ord(found):04X}) in the class name", number)
        names.append(name)
    if not lines:
        problems.add("no class names")
    problems.raise_if_any("invalid label file")
    return tuple(names)


def find_class_folders(split_dir: Path) -> tuple[str, ...]:
    """The class folder names in class-index order (torchvision's ``find_classes``)."""
    if not split_dir.is_dir():
        raise InputError([Problem(str(split_dir), "split folder not found")], "missing data")
    with os.scandir(split_dir) as entries:
        folders = sorted(entry.name for entry in entries if entry.is_dir())
    if not folders:
        raise InputError([Problem(str(split_dir), "no class folders (expected <split>/<class>/<images>)")])
    return tuple(folders)


def check_class_count(split_dir: Path, folders: tuple[str, ...], label_file: Path, names: tuple[str, ...]) -> None:
    if len(folders) != len(names):
        raise InputError(
            [
                Problem(
                    str(label_file),
                    f"{len(names)} class names, but {split_dir} has {len(folders)} class folders"
                    f" ({folders[0]} .. {folders[-1]}): one line per class folder, in sorted folder order",
                )
            ],
            "class names do not match the class folders",
        )


def _shown(path: str | Path) -> str:
    """A path as text, whatever bytes its names hold."""
    return os.fsencode(path).decode("utf-8", errors="backslashreplace")


class _Walk:
    """One class folder's ``os.walk`` with the checks torchvision does not make."""

    def __init__(self, split_dir: Path, folder: str):
        self.split_dir = split_dir
        self.folder = folder
        self.problems: list[Problem] = []

    def _failed(self, error: OSError) -> None:
        self.problems.append(Problem(_shown(error.filename), f"cannot list the folder ({error.strerror})"))

    def rows(self) -> list[tuple[str, list[str], list[str]]]:
        """``os.walk(followlinks=True)`` of the class folder, each real folder at most once."""
        rows = []
        seen: dict[tuple[int, int], str] = {}
        for root, dirs, files in os.walk(self.split_dir / self.folder, followlinks=True, onerror=self._failed):
            try:
                info = os.stat(root)
            except OSError as error:
                self._failed(error)
                dirs[:] = []
                continue
            key = (info.st_dev, info.st_ino)
            if key in seen:
                message = f"the folder {_shown(seen[key])} again, through a symlink (a loop, or its images twice)"
                self.problems.append(Problem(_shown(root), message))
                dirs[:] = []
                continue
            seen[key] = root
            rows.append((root, dirs, files))
        return rows


def _image_problem(path: Path, image_id: str) -> Problem | None:
    """Why an image file cannot be used (None: it can)."""
    try:
        image_id.encode("utf-8")
    except UnicodeEncodeError:
        return Problem(_shown(path), "the file name is not UTF-8 (no submission can name it): rename it")
    try:
        mode = os.stat(path).st_mode
    except OSError as error:
        broken = ", a broken symlink" if path.is_symlink() else ""
        return Problem(str(path), f"cannot read the image ({error.strerror}{broken})")
    if not stat.S_ISREG(mode):
        return Problem(str(path), "not a regular file (a FIFO, socket or device: reading it could block)")
    return None


def scan_images(split_dir: Path, folders: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[int, ...], int]:
    """(image ids, class indices, files skipped) in ImageFolder order (``make_dataset``)."""
    ids: list[str] = []
    labels: list[int] = []
    skipped = 0
    empty: list[str] = []
    problems: list[Problem] = []
    for index, folder in enumerate(folders):
        found = 0
        walk = _Walk(split_dir, folder)
        for root, _, files in sorted(walk.rows()):
            relative = Path(root).relative_to(split_dir).as_posix()
            for name in sorted(files):
                if name.lower().endswith(IMAGE_EXTENSIONS):
                    image_id = f"{relative}/{name}"
                    problem = _image_problem(Path(root) / name, image_id)
                    if problem is not None:
                        problems.append(problem)
                        continue
                    ids.append(image_id)
                    labels.append(index)
                    found += 1
                else:
                    skipped += 1
        problems += walk.problems
        if not found and not walk.problems:
            empty.append(folder)
    if problems:
        raise InputError(problems, f"{_shown(split_dir)} cannot be read as an ImageFolder")
    if empty:
        shown = ", ".join(empty[:20]) + (f" and {len(empty) - 20} more" if len(empty) > 20 else "")
        extensions = " ".join(IMAGE_EXTENSIONS)
        raise InputError(
            [Problem(str(split_dir), f"class folder(s) without image files ({extensions}): {shown}")],
            "empty class folders",
        )
    return tuple(ids), tuple(labels), skipped


def split_paths(data_dir: Path, split: str, label_file: str) -> tuple[Path, Path]:
    """(split folder, label file) of a data directory."""
    return data_dir / split, data_dir / label_file


def read_header(data_dir: Path, split: str, label_file: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(class folders, class names), checked against each other, without listing images."""
    split_dir, label_path = split_paths(data_dir, split, label_file)
    if not data_dir.is_dir():
        raise InputError([Problem(str(data_dir), "data directory not found")], "missing data")
    names = read_class_names(label_path)
    folders = find_class_folders(split_dir)
    check_class_count(split_dir, folders, label_path, names)
    return folders, names


def load_gold(data_dir: Path, split: str, label_file: str = DEFAULT_LABEL_FILE) -> ClassificationGold:
    """Every image of a split with its class index, and the class names."""
    folders, names = read_header(data_dir, split, label_file)
    split_dir, label_path = split_paths(data_dir, split, label_file)
    ids, labels, skipped = scan_images(split_dir, folders)
    return ClassificationGold(str(split_dir), ids, labels, folders, names, str(label_path), skipped)
