"""T2I data files and submission validation: every problem with file, line and field."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image
from t2i_helpers import b64, png, write_dataset, write_submission

from muge_eval.cli.main import main
from muge_eval.errors import InputError, UsageError
from muge_eval.t2i.gold import description_file, load_gold, read_descriptions, real_images_beside
from muge_eval.t2i.submission import parse_image_size, read_submission


def _jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, format="JPEG")
    return buffer.getvalue()


def test_both_description_spellings(tmp_path: Path) -> None:
    ids = write_dataset(tmp_path / "a", 3, text_suffix=".txt.tsv")
    path = description_file(tmp_path / "a", "valid")
    assert path.name == "T2I_valid.txt.tsv"
    assert real_images_beside(path) == tmp_path / "a" / "T2I_valid.img.tsv"
    gold = load_gold(path, real_images_beside(path))
    assert gold.ids == tuple(ids) and gold.fingerprint.startswith("sha256:")
    with pytest.raises(InputError, match=r"T2I_test\.text\.tsv or T2I_test\.txt\.tsv"):
        description_file(tmp_path / "a", "test")


def test_bad_description_lines(tmp_path: Path) -> None:
    path = tmp_path / "T2I_valid.text.tsv"
    path.write_text("\ufeff1\t红色帽子\n\n2\n3\t\n1\t again\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_descriptions(path)
    text = info.value.format()
    assert ":2: blank line" in text
    assert ":3: expected 'img_id<TAB>description'" in text
    assert ":4: description: empty description" in text
    assert ":5: img_id: img_id 1 repeats line 1" in text


def test_valid_tsv_and_directory(tmp_path: Path) -> None:
    ids = write_dataset(tmp_path, 4)
    sub = read_submission(write_submission(tmp_path / "sub.tsv", ids), tuple(ids), (32, 32))
    assert sub.kind == "tsv" and set(sub.entries) == set(ids)
    images = dict(sub.iter_images([ids[2], ids[0]]))
    assert list(images) == [ids[2], ids[0]] and images[ids[0]].size == (32, 32)
    directory = tmp_path / "pngs"
    directory.mkdir()
    for n, i in enumerate(ids):
        (directory / f"{i}.png").write_bytes(png((n, n, n)))
    sub = read_submission(directory, tuple(ids), None)
    assert sub.kind == "dir" and sub.raw_bytes(ids[1]) == (directory / f"{ids[1]}.png").read_bytes()


def test_every_problem_is_reported_with_its_line(tmp_path: Path) -> None:
    ids = ["1", "2", "3", "4", "5", "6", "7"]
    lines = [
        f"1\t{b64(png((1, 1, 1)))}",
        "2\t@@@not base64@@@",
        f"3\t{b64(b'not an image at all')}",
        f"4\t{b64(png((1, 1, 1), size=64))}",
        f"5\t{b64(_jpeg())}",
        f"99\t{b64(png((1, 1, 1)))}",
        f"1\t{b64(png((1, 1, 1)))}",
        "",
        "no tab here",
    ]
    path = tmp_path / "sub.tsv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read_submission(path, tuple(ids), (32, 32))
    text = info.value.format()
    assert ":2: image: not valid base64" in text
    assert ":3: image: not a readable image" in text
    assert ":4: image: is 64x64, expected 32x32" in text
    assert ":5: image: is JPEG, expected PNG" in text
    assert ":6: img_id: img_id '99' is not in the gold descriptions" in text
    assert ":7: img_id: img_id 1 repeats line 1" in text
    assert ":8: blank line" in text
    assert ":9: expected 'img_id<TAB>base64 PNG'" in text
    assert "img_id: 2 gold img_id(s) have no image: 6, 7" in text


def test_directory_problems(tmp_path: Path) -> None:
    directory = tmp_path / "pngs"
    directory.mkdir()
    (directory / "1.png").write_bytes(png((0, 0, 0)))
    (directory / "9.png").write_bytes(png((0, 0, 0)))
    (directory / "2.png").write_bytes(b"garbage")
    (directory / "notes.txt").write_text("x")
    with pytest.raises(InputError) as info:
        read_submission(directory, ("1", "2", "3"), None)
    text = info.value.format()
    assert f"{directory / '9.png'}: img_id: this img_id is not in the gold descriptions" in text
    assert f"{directory / '2.png'}: image: not a readable image" in text
    assert f"{directory / 'notes.txt'}: expected only <img_id>.png files" in text
    assert "1 gold img_id(s) have no image: 3" in text


def test_image_size_option() -> None:
    assert parse_image_size("256") == (256, 256)
    assert parse_image_size("128x64") == (128, 64)
    assert parse_image_size("any") is None
    with pytest.raises(UsageError):
        parse_image_size("big")


def test_validate_and_score_cli(tmp_path: Path) -> None:
    ids = write_dataset(tmp_path / "data", 4)
    good = write_submission(tmp_path / "sub.tsv", ids)
    runner = CliRunner()
    args = ["--task", "muge-t2i", "--data-dir", str(tmp_path / "data"), "--image-size", "32"]
    result = runner.invoke(main, ["validate", str(good), *args])
    assert result.exit_code == 0, result.output
    bad = write_submission(tmp_path / "bad.tsv", ids[:3])
    result = runner.invoke(main, ["validate", str(bad), *args])
    assert result.exit_code == 1 and "have no image: 1003" in result.output and "Traceback" not in result.output
    # The card expects 256x256 by default.
    result = runner.invoke(main, ["validate", str(good), "--task", "muge-t2i", "--data-dir", str(tmp_path / "data")])
    assert result.exit_code == 1 and "is 32x32, expected 256x256" in result.output
    result = runner.invoke(main, ["score", "--predictions", str(good), *args, "--format", "tianchi"])
    assert result.exit_code == 2 and "MUGE's scorer output" in result.output and "Traceback" not in result.output
    out = tmp_path / "score.json"
    result = runner.invoke(
        main,
        ["score", "--predictions", str(good), *args, "--judge", "random", "--output", str(out)],
        env={"MUGE_EVAL_CACHE": str(tmp_path / "empty-cache"), "TORCH_HOME": str(tmp_path / "empty-torch")},
    )
    assert result.exit_code == 0, result.output
    assert "clip_score" in result.output and "r_precision" in result.output
    # Without weights: the file, its checksum prefix and where it is published.
    assert "pt_inception-2015-12-05-6726825d.pth" in result.output and "sha256 begins with 6726825d" in result.output
    assert "github.com/mseitzer/pytorch-fid/releases" in result.output
    assert "fid" not in out.read_text().split('"metrics"')[1].split("}")[0]
