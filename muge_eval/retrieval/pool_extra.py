"""``--pool-extra PATH``: distractor images added to a retrieval pool, the way product
search is tested at catalogue scale (a task's 30,000 images among a million others).

PATH is a MUGE-layout TSV (``id<TAB>base64``, ids of its own, none of them in the task's
pool) or a directory of image files (``.jpg``, ``.jpeg``, ``.png``, ``.webp``, ``.bmp``,
searched recursively). A directory's images are numbered after the task's largest image id,
in the order of their relative paths, and ``ids.tsv`` names them. Distractors are never
relevant; they follow the task's images in the pool, so ties still go to the earlier item.
The set is converted once into the `datasets` cache, keyed by its content (a TSV's sha256,
a directory's names, sizes and times), which also names it in the protocol and the
dataset fingerprint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from muge_eval.data.image_table import image_table_from_files, image_table_from_tsv
from muge_eval.encoding.images import TableImageRows
from muge_eval.errors import InputError, Problem
from muge_eval.fingerprint import file_sha256, text_fingerprint

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")
TSV_FORMAT = "muge-tsv"
DIRECTORY_FORMAT = "image-directory"


@dataclass(frozen=True)
class ExtraPool:
    """The distractor images: a lazily decoded table with their ids, where they came from."""

    path: Path
    format: str
    table: Any
    image_ids: tuple[int, ...]
    fingerprint: str
    # A directory's files by row (relative paths), which ids.tsv and problems name.
    names: tuple[str, ...] = ()

    def rows(self) -> TableImageRows:
        return TableImageRows(self.table, self.image_ids, str(self.path))

    def protocol(self) -> dict[str, Any]:
        """What the protocol records: the set's kind, size and content, not where it lies."""
        return {"format": self.format, "images": len(self.image_ids), "fingerprint": self.fingerprint}

    def id_names(self) -> tuple[tuple[str, int, str], ...]:
        """A directory's (kind, id, file) rows for ids.tsv; a TSV's ids are its own: none."""
        if not self.names:
            return ()
        return tuple(("image", i, name) for i, name in zip(self.image_ids, self.names, strict=True))

    def problem_for(self, problem: Problem, row: int) -> Problem:
        """A problem about row ``row``, naming the image's own file when it has one."""
        if not self.names:
            return problem
        return Problem(str(self.path / self.names[row]), problem.message, None, problem.field)


def check_pool_extra(path: Path) -> None:
    """Fail before any model loads when PATH is neither a file nor a directory."""
    if not path.is_file() and not path.is_dir():
        raise InputError([Problem(str(path), "not found")], "--pool-extra")


def image_files(directory: Path) -> list[Path]:
    """The image files under ``directory``, in the order of their relative paths."""
    found = (p for p in directory.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())


def _from_tsv(path: Path, task_ids: Sequence[int], cache_dir: Path | None) -> ExtraPool:
    sha = file_sha256(path)
    table = image_table_from_tsv(path, "int", sha, cache_dir)
    ids = tuple(int(i) for i in table["image_id"])
    if not ids:
        raise InputError([Problem(str(path), "no images")], "--pool-extra")
    taken = set(task_ids)
    clashes = [(row, i) for row, i in enumerate(ids) if i in taken]
    if clashes:
        lines = list(table.select([r for r, _ in clashes[:20]])["line"])
        problems = [
            Problem(str(path), f"image id {i} is already in the task's pool", line, "id")
            for (_, i), line in zip(clashes, lines, strict=False)
        ]
        raise InputError(problems, f"{len(clashes)} distractor id(s) clash with the task's images")
    return ExtraPool(path, TSV_FORMAT, table, ids, text_fingerprint(path.name, sha))


def _from_directory(directory: Path, task_ids: Sequence[int], cache_dir: Path | None) -> ExtraPool:
    files = image_files(directory)
    if not files:
        raise InputError([Problem(str(directory), f"no image files ({', '.join(IMAGE_SUFFIXES)})")], "--pool-extra")
    names = tuple(p.relative_to(directory).as_posix() for p in files)
    signature = []
    for name, path in zip(names, files, strict=True):
        stat = path.stat()
        signature.append(f"{name}:{stat.st_size}:{stat.st_mtime_ns}")
    first = max(task_ids, default=0) + 1
    ids = tuple(range(first, first + len(files)))
    fingerprint = text_fingerprint(*signature)
    table = image_table_from_files(list(ids), files, list(range(1, len(files) + 1)), fingerprint, cache_dir)
    return ExtraPool(directory, DIRECTORY_FORMAT, table, ids, fingerprint, names)


def load_pool_extra(path: Path, task_ids: Sequence[int], cache_dir: Path | None) -> ExtraPool:
    """The distractors at ``path``, numbered so that no id is one of ``task_ids``."""
    check_pool_extra(path)
    if path.is_dir():
        return _from_directory(path, task_ids, cache_dir)
    return _from_tsv(path, task_ids, cache_dir)
