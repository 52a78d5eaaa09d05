"""decode=torchvision: JPEGs decoded and resized on the model's device (here the CPU).

The two decoders and resize kernels differ by rounding: measured on the fixture's smooth
JPEGs (the kind of picture JPEG is made for) the largest pixel difference after resizing
is 1 with a mean about 0.1, at resolution 32 and 224, squash and processor.
"""

from __future__ import annotations

import base64
import io
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from models_fixtures import build_hf_chinese_clip, chunk_files, make_retrieval_split, random_jpeg
from PIL import Image

from muge_eval.cli.main import main
from muge_eval.data.device_decode import decode_on_device
from muge_eval.data.image_transform import ImageTransform
from muge_eval.data.loader import BatchDecoder, PixelBatch
from muge_eval.encoding.images import TableImageRows
from muge_eval.errors import UsageError

torch = pytest.importorskip("torch")
pytest.importorskip("torchvision")

PNG_ROW, BAD_ROW = 5, 11


@pytest.fixture(scope="module")
def hf_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_hf_chinese_clip(tmp_path_factory.mktemp("hf") / "ckpt")


def raw_batch(datas: list[bytes], resolution: int) -> PixelBatch:
    raw = tuple(np.frombuffer(d, dtype=np.uint8).copy() for d in datas)
    empty = np.zeros((0, resolution, resolution, 3), dtype=np.uint8)
    return PixelBatch(
        0, empty, np.zeros(len(datas), dtype=np.bool_), 0.0, np.zeros(0, np.int64), np.arange(len(datas)), raw
    )


@pytest.mark.parametrize("mode", ["squash", "processor"])
@pytest.mark.parametrize("resolution", [32, 224])
def test_device_pixels_match_the_cpu_path_within_rounding(mode: str, resolution: int) -> None:
    rng = np.random.default_rng(0)
    sizes = [(int(rng.integers(20, 300)), int(rng.integers(20, 300))) for _ in range(12)] + [(224, 224), (7, 300)]
    datas = [random_jpeg(rng, w, h) for w, h in sizes]
    transform = ImageTransform(resolution, mode, draft=False, decode="torchvision")
    expected = np.stack([transform(d) for d in datas]).astype(np.int16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the torchvision deprecation warning is silenced where it is raised
        pixels, ok = decode_on_device(raw_batch(datas, resolution), transform, "cpu")
    assert ok.all()
    assert pixels.dtype == torch.uint8 and tuple(pixels.shape) == (len(datas), resolution, resolution, 3)
    diff = np.abs(pixels.numpy().astype(np.int16) - expected)
    assert diff.max() <= 2
    assert diff.mean() < 0.3


def test_workers_hand_over_jpeg_bytes_and_decode_other_formats() -> None:
    import datasets

    rng = np.random.default_rng(1)
    jpeg = random_jpeg(rng, 50, 40)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(buffer, format="PNG")
    images = [jpeg, buffer.getvalue(), b"not an image", None, b"\xff\xd8\xff broken jpeg"]
    feature = datasets.Features({"image": datasets.Image(decode=False)})
    table = datasets.Dataset.from_dict(
        {"image": [{"bytes": b, "path": None} if b is not None else None for b in images]}, features=feature
    )
    transform = ImageTransform(32, decode="torchvision")
    rows = TableImageRows(table, list(range(5)), "test")
    batch = BatchDecoder(rows, [(0, 5)], transform)[0]
    assert batch.raw_rows is not None and batch.raw_rows.tolist() == [0, 4]
    assert batch.pixel_rows is not None and batch.pixel_rows.tolist() == [1]
    np.testing.assert_array_equal(batch.pixels[0], transform(images[1]))  # type: ignore[arg-type]
    pixels, ok = decode_on_device(batch, transform, "cpu")
    assert ok.tolist() == [True, True, False, False, False]
    assert int(pixels[2:].sum()) == 0
    cpu = BatchDecoder(rows, [(0, 5)], ImageTransform(32))[0]
    assert cpu.ok.tolist() == ok.tolist()
    np.testing.assert_array_equal(pixels[1].numpy(), cpu.pixels[1])
    assert np.abs(pixels[0].numpy().astype(int) - cpu.pixels[0].astype(int)).max() <= 2


def test_a_jpeg_torchvision_rejects_falls_back_to_pil(monkeypatch: pytest.MonkeyPatch) -> None:
    import muge_eval.data.device_decode as device_decode

    rng = np.random.default_rng(2)
    datas = [random_jpeg(rng, 40, 60), random_jpeg(rng, 70, 50)]
    transform = ImageTransform(32, decode="torchvision")
    real = device_decode._decode_jpegs

    def picky(raw: list, device: str) -> list:  # type: ignore[type-arg]
        if any(len(d) == len(datas[1]) for d in raw):
            raise RuntimeError("unsupported by this decoder")
        return real(raw, device)

    monkeypatch.setattr(device_decode, "_decode_jpegs", picky)
    pixels, ok = decode_on_device(raw_batch(datas, 32), transform, "cpu")
    assert ok.all()
    np.testing.assert_array_equal(pixels[1].numpy(), transform(datas[1]))


def test_decode_option_is_checked_and_recorded(hf_dir: Path) -> None:
    from muge_eval.retrieval.adapters.hf_chinese_clip import HFChineseCLIP

    with pytest.raises(UsageError, match="decode must be one of cpu, torchvision"):
        HFChineseCLIP(model=str(hf_dir), device="cpu", decode="nvjpeg")
    gpu = HFChineseCLIP(model=str(hf_dir), device="cpu", decode="torchvision")
    cpu = HFChineseCLIP(model=str(hf_dir), device="cpu")
    assert gpu.protocol()["decode"] == "torchvision" and cpu.protocol()["decode"] == "cpu"
    assert gpu.image_transform().decode == "torchvision"


def split_with_png_and_corrupt_image(directory: Path) -> Path:
    data = make_retrieval_split(directory)
    tsv = data / "MR_valid_imgs.tsv"
    lines = tsv.read_text(encoding="utf-8").splitlines()
    image_id, encoded = lines[PNG_ROW].split("\t")
    buffer = io.BytesIO()
    Image.open(io.BytesIO(base64.b64decode(encoded))).save(buffer, format="PNG")
    lines[PNG_ROW] = f"{image_id}\t{base64.b64encode(buffer.getvalue()).decode()}"
    image_id, encoded = lines[BAD_ROW].split("\t")
    lines[BAD_ROW] = f"{image_id}\t{base64.b64encode(base64.b64decode(encoded)[:300]).decode()}"
    tsv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return data


def run(data: Path, out: Path, model: Path, decode: str, *extra: str) -> tuple[int, str]:
    model_args = f"model={model},device=cpu,decode={decode}"
    args = ["--quiet", "run", "--task", "muge-retrieval", "--data-dir", str(data), "--split", "valid"]
    args += ["--model", "hf-chinese-clip", "--model-args", model_args, "--output-dir", str(out)]
    result = CliRunner().invoke(main, [*args, "--batch-size", "8", "--chunk-size", "16", *extra])
    return result.exit_code, result.stdout + result.stderr


def image_embeddings(cache: Path) -> tuple[np.ndarray, np.ndarray]:
    chunks = [np.load(path, allow_pickle=False) for path in chunk_files(cache, "images")]
    return np.concatenate([c["embeddings"] for c in chunks]), np.concatenate([c["ok"] for c in chunks])


def embeddings_of(cache: Path, kind: str) -> np.ndarray:
    chunks = [np.load(path, allow_pickle=False)["embeddings"] for path in chunk_files(cache, kind)]
    matrix = np.concatenate(chunks)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.asarray(matrix / np.where(norms > 0, norms, 1.0))


def assert_same_top10(cpu: Path, gpu: Path, cpu_predictions: str, gpu_predictions: str) -> None:
    """Identical top-10 ids, except that two items may trade places when their scores are
    closer than twice the largest score change the decoders cause (a near-tie)."""
    texts = embeddings_of(cpu / "cache" / "embeddings", "texts")
    np.testing.assert_array_equal(texts, embeddings_of(gpu / "cache" / "embeddings", "texts"))
    cpu_scores, gpu_scores = (
        texts @ embeddings_of(cpu / "cache" / "embeddings", "images").T,
        texts @ embeddings_of(gpu / "cache" / "embeddings", "images").T,
    )
    change = float(np.abs(cpu_scores - gpu_scores).max())
    assert change < 0.01  # measured 0.0036 with the tiny random model
    cpu_lists = [json.loads(line)["item_ids"] for line in cpu_predictions.splitlines()]
    gpu_lists = [json.loads(line)["item_ids"] for line in gpu_predictions.splitlines()]
    identical = 0
    for query, (cpu_ids, gpu_ids) in enumerate(zip(cpu_lists, gpu_lists, strict=True)):
        identical += cpu_ids == gpu_ids
        for a, b in zip(cpu_ids, gpu_ids, strict=True):
            assert abs(cpu_scores[query, a - 1000] - cpu_scores[query, b - 1000]) <= 2 * change
    assert identical >= len(cpu_lists) // 2


def test_torchvision_decode_run_matches_the_cpu_run(tmp_path: Path, hf_dir: Path) -> None:
    data = split_with_png_and_corrupt_image(tmp_path / "data")
    outcomes = {}
    for decode in ("cpu", "torchvision"):
        cache = tmp_path / decode / "cache"
        code, output = run(
            data,
            tmp_path / decode,
            hf_dir,
            decode,
            "--num-workers",
            "2",
            "--skip-bad-images",
            "--cache-dir",
            str(cache),
        )
        assert code == 0, output
        results = json.loads((tmp_path / decode / "results.json").read_text())
        predictions = (tmp_path / decode / "predictions.jsonl").read_text()
        outcomes[decode] = (results, predictions, *image_embeddings(cache / "embeddings"))
    (cpu, cpu_predictions, cpu_emb, cpu_ok), (gpu, gpu_predictions, gpu_emb, gpu_ok) = outcomes.values()
    assert cpu["model"]["protocol"]["decode"] == "cpu" and gpu["model"]["protocol"]["decode"] == "torchvision"
    assert gpu["protocol"]["skipped_images"] == cpu["protocol"]["skipped_images"] == [1000 + BAD_ROW]
    assert gpu["dataset"]["num_items"]["bad_images"] == 1
    assert_same_top10(tmp_path / "cpu", tmp_path / "torchvision", cpu_predictions, gpu_predictions)
    assert "decode_images_device_s" in gpu["timings"]
    np.testing.assert_array_equal(gpu_ok, cpu_ok)
    assert gpu_ok.sum() == len(gpu_ok) - 1
    a, b = gpu_emb[gpu_ok], cpu_emb[cpu_ok]
    cosine = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    assert cosine.min() > 0.999
    np.testing.assert_array_equal(gpu_emb[PNG_ROW], cpu_emb[PNG_ROW])  # PNG: decoded by PIL either way


def test_corrupt_jpeg_fails_the_torchvision_run_as_on_the_cpu_path(tmp_path: Path, hf_dir: Path) -> None:
    data = split_with_png_and_corrupt_image(tmp_path / "data")
    messages = {}
    for decode in ("cpu", "torchvision"):
        code, output = run(data, tmp_path / decode, hf_dir, decode, "--num-workers", "0", "--no-embedding-cache")
        assert code == 1
        assert not (tmp_path / decode / "results.json").exists()
        messages[decode] = [line for line in output.splitlines() if "image" in line and "Loading" not in line]
    assert messages["torchvision"] == messages["cpu"]
    messages_cpu = "\n".join(messages["cpu"])
    assert f"MR_valid_imgs.tsv:{BAD_ROW + 1}: image: image {1000 + BAD_ROW}: cannot decode image" in messages_cpu
    assert "1 image(s) cannot be decoded" in messages_cpu
