"""Faults of the machine and of files muge-eval wrote itself: damaged caches are computed
again, a full disk is one message naming the file with nothing partial left, new files
follow the umask, and a symlinked site folder is built in place."""

from __future__ import annotations

import errno
import io
import json
import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from fuzz_targets import TARGETS
from t2i_helpers import write_dataset

import muge_eval.io.atomic
from muge_eval.caption.cache import CaptionCache
from muge_eval.cli.main import main
from muge_eval.encoding.cache import Chunk, EmbeddingCache
from muge_eval.errors import OutputError, UsageError
from muge_eval.io.atomic import atomic_write_text
from muge_eval.t2i.fid import GaussianStats, load_stats, save_stats

RETRIEVAL = next(t for t in TARGETS if t.type == "retrieval")


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


def damaged_versions(data: bytes) -> Iterator[tuple[str, bytes]]:
    yield "empty", b""
    yield "truncated", data[: len(data) // 2]
    yield "truncated at the end", data[:-10]
    yield "garbage", b"not a zip file at all" * 10
    crc = bytearray(data)
    crc[len(data) // 3] ^= 0xFF  # inside the stored array data: the member's CRC no longer matches
    yield "CRC-damaged", bytes(crc)


# --- caches -----------------------------------------------------------------------------


def test_a_damaged_embedding_chunk_reads_as_absent(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path, {"model": "m", "kind": "images"})
    chunk = Chunk(np.arange(12, dtype=np.float32).reshape(4, 3), np.array([True, True, False, True]))
    cache.save(0, chunk)
    path = cache.directory / "chunk-00000.npz"
    good = path.read_bytes()
    loaded = cache.load(0, 4)
    assert loaded is not None and np.array_equal(loaded.embeddings, chunk.embeddings)
    for name, data in damaged_versions(good):
        path.write_bytes(data)
        assert cache.load(0, 4) is None, name
    with zipfile.ZipFile(path, "w") as archive:  # an object array would need pickle
        buffer = io.BytesIO()
        np.save(buffer, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
        archive.writestr("embeddings.npy", buffer.getvalue())
        archive.writestr("ok.npy", buffer.getvalue())
    assert cache.load(0, 4) is None
    np.savez(path.with_suffix(".tmp.npz"), embeddings=np.array(["a"] * 12).reshape(4, 3), ok=np.ones(4, bool))
    path.with_suffix(".tmp.npz").rename(path)  # strings where numbers belong
    assert cache.load(0, 4) is None
    np.save(path.with_suffix(".npy"), chunk.embeddings)
    path.with_suffix(".npy").rename(path)  # a plain .npy under the chunk's name
    assert cache.load(0, 4) is None


def test_damaged_chunks_are_encoded_again_in_a_run(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from models_fixtures import build_hf_chinese_clip, chunk_files, make_retrieval_split

    model = build_hf_chinese_clip(tmp_path / "ckpt")
    data = make_retrieval_split(tmp_path / "data", n_images=32, n_queries=8)
    args = ["run", "--task", "muge-retrieval", "--data-dir", str(data), "--model", "hf-chinese-clip",
            "--model-args", f"model={model},device=cpu", "--cache-dir", str(tmp_path / "cache"),
            "--batch-size", "4", "--chunk-size", "8", "--num-workers", "0"]  # fmt: skip
    assert invoke(*args, "--output-dir", str(tmp_path / "first"))[0] == 0
    chunks = chunk_files(tmp_path / "cache" / "embeddings", "images")
    assert len(chunks) == 4
    for chunk, (_, data_bytes) in zip(chunks, list(damaged_versions(chunks[0].read_bytes()))[1:], strict=False):
        chunk.write_bytes(data_bytes)
    result = CliRunner().invoke(main, [*args, "--output-dir", str(tmp_path / "second")])
    assert result.exit_code == 0, result.output
    assert "encoded 4" in result.output and "Traceback" not in result.output
    first = (tmp_path / "first" / "predictions.jsonl").read_bytes()
    assert (tmp_path / "second" / "predictions.jsonl").read_bytes() == first


def test_damaged_fid_statistics_read_as_absent(tmp_path: Path) -> None:
    path = tmp_path / "stats.npz"
    save_stats(path, GaussianStats(np.zeros(3), np.eye(3), 5))
    stats = load_stats(path)
    assert stats is not None and stats.count == 5
    for name, data in damaged_versions(path.read_bytes()):
        damaged = tmp_path / f"{name}.npz"
        damaged.write_bytes(data)
        assert load_stats(damaged) is None, name
    np.savez(tmp_path / "shape.npz", mu=np.zeros(3), sigma=np.zeros((2, 2)), count=np.int64(1))
    assert load_stats(tmp_path / "shape.npz") is None


def test_a_damaged_caption_cache_is_captioned_again(tmp_path: Path) -> None:
    cache = CaptionCache(tmp_path, "model-x", {"beams": 1})
    assert cache.load() == {}
    cache.append({"a": "红色", "b": "蓝色", "c": "绿色"})
    lines = cache.path.read_text(encoding="utf-8").splitlines()
    damaged = [lines[0], lines[1], '{"image_id": "b", "text": ' + "[" * 10_000, "\x00garbage", lines[3]]
    cache.path.write_text("\n".join(damaged) + "\n", encoding="utf-8")
    assert CaptionCache(tmp_path, "model-x", {"beams": 1}).load() == {"a": "红色", "c": "绿色"}
    assert len(cache.path.read_text(encoding="utf-8").splitlines()) == 3  # rewritten sound: header + 2
    cache.path.write_bytes(b"\xff\xfe damaged header\n" + "\n".join(lines[1:]).encode() + b"\n")
    assert CaptionCache(tmp_path, "model-x", {"beams": 1}).load() == {}
    assert json.loads(cache.path.read_text(encoding="utf-8").splitlines()[0])["key"] == cache.key
    cache.append({"d": "黄色"})
    assert CaptionCache(tmp_path, "model-x", {"beams": 1}).load() == {"d": "黄色"}


def test_a_damaged_generated_image_is_generated_again(tmp_path: Path) -> None:
    write_dataset(tmp_path / "data", 4)
    args = ["run", "--task", "muge-t2i", "--data-dir", str(tmp_path / "data"), "--model", "procedural",
            "--task-args", f"generation_dir={tmp_path / 'gen'}"]  # fmt: skip
    code, output = invoke(*args, "--output-dir", str(tmp_path / "a"))
    assert code == 0, output
    stored = sorted((tmp_path / "gen").rglob("*.png"))
    assert len(stored) == 4
    stored[0].write_bytes(stored[0].read_bytes()[:-30])
    stored[1].write_bytes(b"")
    code, output = invoke(*args, "--output-dir", str(tmp_path / "b"))
    assert code == 0, output
    notes = json.loads((tmp_path / "b" / "results.json").read_text(encoding="utf-8"))["notes"]
    assert any("2 image(s) reused" in note for note in notes), notes
    a, b = (tmp_path / name / "predictions.tsv" for name in ("a", "b"))
    assert a.read_bytes() == b.read_bytes()


# --- full disks, modes, symlinks --------------------------------------------------------


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every atomic write fails as on a full disk, when its data is flushed."""

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(muge_eval.io.atomic.os, "fsync", no_space)


@pytest.mark.usefixtures("full_disk")
def test_a_full_disk_is_one_message_and_leaves_nothing_partial(tmp_path: Path) -> None:
    gold, submission = RETRIEVAL.write_files(tmp_path / "files", "submission.jsonl")
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("earlier results\n", encoding="utf-8")
    code, output = invoke("score", "--task", "muge-retrieval", "--gold", str(gold), "--predictions", str(submission),
                          "--output", str(out / "results.json"))  # fmt: skip
    assert code == 1 and "Traceback" not in output
    assert f"error: cannot write {out / 'results.json'}: No space left on device" in output
    assert [p.name for p in out.iterdir()] == ["results.json"]
    assert (out / "results.json").read_text(encoding="utf-8") == "earlier results\n"
    code, output = invoke("run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(out))
    assert code == 1 and "No space left on device" in output and "Traceback" not in output
    assert [p.name for p in out.iterdir()] == ["results.json"]


def test_a_full_disk_while_building_a_site_keeps_the_earlier_site(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from board_helpers import make_board, retrieval_run

    import muge_eval.leaderboard.site as site

    board = make_board(tmp_path / "board")
    assert invoke("submit", str(retrieval_run(tmp_path / "run", "m", [1, 0, 1, 1])), "--board", str(board))[0] == 0
    assert invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site"))[0] == 0
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "site" in p.parts[len(tmp_path.parts)])

    def no_space(path: Path, text: str) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(site, "_write", no_space)
    code, output = invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site"))
    assert code == 1 and f"cannot write {tmp_path / 'site'}: No space left on device" in output
    assert "Traceback" not in output
    after = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if "site" in p.parts[len(tmp_path.parts)])
    assert after == before and not [p for p in tmp_path.iterdir() if p.name.startswith(".site")]


def test_a_full_disk_while_caching_captions_is_one_message(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = CaptionCache(tmp_path, "model-x", {})
    cache.load()

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", no_space)
    with pytest.raises(OutputError, match=f"cannot write {cache.path}: No space left on device"):
        cache.append({"a": "红色"})


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_new_files_follow_the_umask(tmp_path: Path, umask: int, mode: int) -> None:
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "a.json", "{}\n")
        gold, submission = RETRIEVAL.write_files(tmp_path / "files", "submission.jsonl")
        out = tmp_path / "score" / "results.json"
        invoke("score", "--task", "muge-retrieval", "--gold", str(gold), "--predictions", str(submission),
               "--output", str(out))  # fmt: skip
    finally:
        os.umask(previous)
    assert (tmp_path / "a.json").stat().st_mode & 0o777 == mode
    assert out.stat().st_mode & 0o777 == mode


def test_a_replaced_file_keeps_its_mode(tmp_path: Path) -> None:
    path = tmp_path / "results.json"
    path.write_text("old\n", encoding="utf-8")
    path.chmod(0o640)
    atomic_write_text(path, "new\n")
    assert path.read_text(encoding="utf-8") == "new\n" and path.stat().st_mode & 0o777 == 0o640


def test_a_site_folder_behind_a_symlink_is_built_in_place(tmp_path: Path) -> None:
    from board_helpers import make_board, retrieval_run

    board = make_board(tmp_path / "board")
    assert invoke("submit", str(retrieval_run(tmp_path / "run", "m", [1, 0, 1, 1])), "--board", str(board))[0] == 0
    (tmp_path / "www").mkdir()
    real = tmp_path / "www" / "site"
    link = tmp_path / "site-link"
    link.symlink_to(real, target_is_directory=True)
    for _ in range(2):  # a new site, then a rebuild over it
        code, output = invoke("leaderboard", "build", str(board), "--out", str(link))
        assert code == 0, output
        assert link.is_symlink() and (real / "index.html").is_file()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["board", "run", "site-link", "www"]
        assert [p.name for p in (tmp_path / "www").iterdir()] == ["site"]


# --- devices ----------------------------------------------------------------------------


@pytest.mark.parametrize("adapter", ["hf-captioner", "diffusers"])
def test_a_missing_gpu_is_found_before_loading(adapter: str, monkeypatch: pytest.MonkeyPatch) -> None:
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    import transformers
    from diffusers import DiffusionPipeline

    def never(*args: object, **kwargs: object) -> None:
        raise AssertionError("the model was loaded before the device was checked")

    monkeypatch.setattr(DiffusionPipeline, "from_pretrained", never)
    for name in ("AutoModelForImageTextToText", "AutoModelForVision2Seq"):
        if hasattr(transformers, name):
            monkeypatch.setattr(getattr(transformers, name), "from_pretrained", never)
    if adapter == "hf-captioner":
        from muge_eval.caption.adapters.hf_captioner import HFCaptioner

        with pytest.raises(UsageError, match="device=cuda: CUDA is not available"):
            HFCaptioner("some/model", device="cuda")
    else:
        from muge_eval.t2i.adapters.diffusers_pipeline import DiffusersGenerator

        with pytest.raises(UsageError, match="device=cuda: CUDA is not available"):
            DiffusersGenerator("some/pipeline", device="cuda")


def test_a_hostile_feature_array_is_one_message(tmp_path: Path) -> None:
    from muge_eval.errors import InputError
    from muge_eval.retrieval.adapters.features import load_feature_table

    ids = tmp_path / "ids.npy"
    np.save(ids, np.arange(4))
    good = tmp_path / "good.npy"
    np.save(good, np.ones((4, 3), np.float32))
    header_end = good.read_bytes().index(b"\n") + 1
    huge = good.read_bytes()[:header_end].replace(b"(4, 3)", b"(4000000000, 3000000)")
    pickled = io.BytesIO()
    np.save(pickled, np.array([{"a": 1}] * 4, dtype=object), allow_pickle=True)
    archive = io.BytesIO()
    np.savez(archive, a=np.ones((4, 3)))
    cases = {
        "huge header": huge.ljust(header_end) + bytes(48),
        "truncated": good.read_bytes()[:-20],
        "empty": b"",
        "pickled objects": pickled.getvalue(),
        "an npz archive": archive.getvalue(),
        "text": b"1 2 3\n",
    }
    for name, data in cases.items():
        path = tmp_path / f"{name}.npy"
        path.write_bytes(data)
        with pytest.raises(InputError, match=r"not a readable \.npy array|must be|does not match") as info:
            load_feature_table(path, ids, ("image_id",))
        assert info.value.problems[0].file == str(path), name
    (tmp_path / "ids.txt").write_bytes(b"1\n2\n\xff\n")
    with pytest.raises(InputError, match="not UTF-8"):
        load_feature_table(good, tmp_path / "ids.txt", ("image_id",))
