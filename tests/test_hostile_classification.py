"""A classification data folder as a hostile user (or a careless copy) leaves it: symlink
loops, links that multiply the walk, a FIFO named like an image, broken links, file names
that are not UTF-8, folders that cannot be listed, damaged image files, and label files
read as Chinese-CLIP reads them. Each is refused at once with a message naming the path,
or noted; nothing hangs and nothing is dropped without a word."""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fuzz_targets import CLASSIFICATION_SPLIT, LABEL_FILE, TARGETS, bad_images

from muge_eval.classification.gold import load_gold, read_class_names
from muge_eval.cli.main import main
from muge_eval.errors import InputError

CARD = "imagenet-1k-cn"
SECONDS = 3.0


class MeanColour:
    """A duck-typed embedding model that decodes every image (its mean colour) and embeds a
    prompt by its characters: enough to make a run read each image file."""

    def encode_texts(self, texts: list[str]) -> np.ndarray:
        return np.array([[float(len(t)), float(sum(map(ord, t)) % 97), 1.0] for t in texts], dtype=np.float32)

    def encode_images(self, images: list[object]) -> np.ndarray:
        rows = [np.asarray(i.convert("RGB"), dtype=np.float32).mean(axis=(0, 1)) for i in images]  # type: ignore[attr-defined]
        return np.array(rows, dtype=np.float32)


def invoke(*args: str) -> tuple[int, str, float]:
    started = time.perf_counter()
    result = CliRunner().invoke(main, ["--quiet", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    return result.exit_code, result.output, time.perf_counter() - started


CLASSIFICATION = next(t for t in TARGETS if t.type == "classification")


def folder(tmp_path: Path) -> Path:
    """The fuzz suite's tiny ImageFolder in ``tmp_path/data``, and a valid submission beside it."""
    data, _ = CLASSIFICATION.write_files(tmp_path, "submission.jsonl")
    return data


def split_of(data: Path) -> Path:
    return data / CLASSIFICATION_SPLIT


def _loop(data: Path) -> Path:
    link = split_of(data) / "000" / "again"
    link.symlink_to(split_of(data) / "000")
    return link


def _many_links(data: Path) -> Path:
    # Two links back to their folder: os.walk would follow 2**40 paths before ELOOP stops it.
    for name in ("a", "b"):
        (split_of(data) / "001" / name).symlink_to(split_of(data) / "001")
    return split_of(data) / "001" / "b"


def _two_links_to_one_folder(data: Path) -> Path:
    shared = data / "shared"
    shared.mkdir()
    (shared / "extra.png").write_bytes((split_of(data) / "000" / "img_0.png").read_bytes())
    for name in ("x", "y"):
        (split_of(data) / "002" / name).symlink_to(shared)
    return split_of(data) / "002" / "y"


def _fifo(data: Path) -> Path:
    path = split_of(data) / "001" / "waiting.jpg"
    os.mkfifo(path)
    return path


def _broken_link(data: Path) -> Path:
    path = split_of(data) / "002" / "gone.png"
    path.symlink_to(data / "nowhere.png")
    return path


def _not_utf8(data: Path) -> Path:
    path = Path(os.fsdecode(os.fsencode(split_of(data) / "000") + b"/\xff\xfe.png"))
    path.write_bytes(b"")
    return split_of(data) / "000"


ODDITIES: dict[str, tuple[Callable[[Path], Path], str]] = {
    "symlink loop": (_loop, "again, through a symlink"),
    "links that multiply the walk": (_many_links, "again, through a symlink"),
    "two links to one folder": (_two_links_to_one_folder, "again, through a symlink"),
    "FIFO named like an image": (_fifo, "not a regular file"),
    "broken symlink": (_broken_link, "a broken symlink"),
    "file name not UTF-8": (_not_utf8, "not UTF-8"),
}


@pytest.mark.parametrize("oddity", list(ODDITIES), ids=list(ODDITIES))
def test_an_image_folder_that_would_hang_or_loop_is_refused_at_once(oddity: str, tmp_path: Path) -> None:
    data = folder(tmp_path)
    make, message = ODDITIES[oddity]
    path = make(data)
    submission = str(tmp_path / "submission.jsonl")
    for args in (
        ("validate", submission),
        ("score", "--predictions", submission, "--output", str(tmp_path / "scored.json")),
        ("run", "--model", "random", "--output-dir", str(tmp_path / "run")),
    ):
        code, output, seconds = invoke(*args, "--task", CARD, "--data-dir", str(data))
        assert code == 1, output
        assert message in output and str(path) in output, output
        assert seconds < SECONDS, seconds
    assert not (tmp_path / "scored.json").exists() and not (tmp_path / "run" / "results.json").exists()


def test_a_folder_that_cannot_be_listed_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """os.walk skips a folder it cannot list without a word (and so does torchvision)."""
    data = folder(tmp_path)
    hidden = split_of(data) / "001" / "more"
    hidden.mkdir()
    (hidden / "img_9.png").write_bytes((split_of(data) / "001" / "img_1.png").read_bytes())
    real_scandir = os.scandir

    def scandir(path: str | os.PathLike[str] = ".") -> Iterator[os.DirEntry[str]]:
        if Path(path) == hidden:
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)  # type: ignore[return-value]

    monkeypatch.setattr(os, "scandir", scandir)
    with pytest.raises(InputError, match=f"{hidden}: cannot list the folder \\(Permission denied\\)"):
        load_gold(data, CLASSIFICATION_SPLIT)


def test_links_a_torchvision_imagefolder_follows_are_followed(tmp_path: Path) -> None:
    """A class folder that is a symlink, and a link to a folder outside, list as in torchvision."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    data = folder(tmp_path)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "far.png").write_bytes((split_of(data) / "000" / "img_0.png").read_bytes())
    (split_of(data) / "001" / "linked").symlink_to(outside)
    moved = tmp_path / "class-two"
    (split_of(data) / "002").rename(moved)
    (split_of(data) / "002").symlink_to(moved)
    (split_of(data) / "002" / "notes.txt").write_text("not an image", encoding="utf-8")
    gold = load_gold(data, CLASSIFICATION_SPLIT)
    classes = {name: index for index, name in enumerate(gold.class_folders)}
    expected = make_dataset(str(split_of(data)), classes, extensions=IMG_EXTENSIONS)
    root = str(split_of(data)) + "/"
    assert [(p.removeprefix(root), c) for p, c in expected] == list(zip(gold.image_ids, gold.labels, strict=True))
    assert gold.skipped_files == 1 and "no image extension" in gold.notes()[0]


def test_the_label_file_reads_as_chinese_clip_reads_it(tmp_path: Path) -> None:
    """Chinese-CLIP: ``[line.strip() for line in open(label_file, encoding="utf8").readlines()]``
    (universal newlines); a leading BOM is dropped here, where its tokenizer drops it."""
    path = tmp_path / LABEL_FILE
    path.write_bytes("\ufeff 红色圆形 \r\n蓝色方块\r绿色\t三角\n黄色".encode())
    with open(path, encoding="utf8") as handle:
        theirs = [line.strip() for line in handle.readlines()]
    assert theirs[0] == "\ufeff 红色圆形"  # its tokenizer drops the BOM and the space
    assert read_class_names(path) == (theirs[0].removeprefix("\ufeff").strip(), *theirs[1:])


UNDECODABLE = ("PNG without image data", "corrupt pixel stream, correct CRC", "short pixel stream",
               "bad filter byte", "truncated PNG", "empty", "65000x65000 header")  # fmt: skip


@pytest.mark.parametrize("damage", UNDECODABLE)
def test_a_damaged_image_file_fails_the_run_naming_it(damage: str, tmp_path: Path) -> None:
    """The image cases of the fuzz suite, as files of a class folder that a model decodes."""
    data = folder(tmp_path)
    path = split_of(data) / "001" / "damaged.png"
    path.write_bytes(bad_images(16, random.Random(3))[damage])
    code, output, seconds = invoke("run", "--model", f"{__name__}:MeanColour", "--task", CARD,
                                   "--data-dir", str(data), "--output-dir", str(tmp_path / "run"))  # fmt: skip
    assert code == 1 and f"{path}: cannot decode image" in output, output
    assert not (tmp_path / "run" / "results.json").exists() and seconds < SECONDS
