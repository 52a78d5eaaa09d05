"""The decoding workers hand back exactly what decoding in the main process gives: same
pixels, same flags, same order, also when the shared slots are reused many times over and
a corrupt image lands in a slot that held a good one before."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from models_fixtures import random_jpeg
from PIL import Image

from muge_eval.data.image_table import image_table_from_tsv
from muge_eval.data.loader import PREFETCH_PER_WORKER, iter_pixel_batches
from muge_eval.models.image_transform import ImageTransform

pytest.importorskip("torch")

PNG_ROWS = (4, 29)


def png_bytes(rng: np.random.Generator) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (30, 20, 3), dtype=np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


@pytest.fixture(scope="module")
def table(tmp_path_factory: pytest.TempPathFactory) -> object:
    directory = tmp_path_factory.mktemp("loader")
    rng = np.random.default_rng(5)
    lines = []
    for row in range(61):
        data = png_bytes(rng) if row in PNG_ROWS else random_jpeg(rng, 40, 50)
        if row % 9 == 8:  # corrupt, in a different slot position each time round the ring
            data = data[: len(data) // 3]
        lines.append(f"{row}\t{base64.b64encode(data).decode()}\n")
    path = directory / "imgs.tsv"
    path.write_text("".join(lines), encoding="utf-8")
    return image_table_from_tsv(path, "int", "loader-test", directory / "cache")


def collect(table: object, transform: ImageTransform, workers: int, batch: int) -> list[tuple]:
    ranges = [(s, min(61, s + batch)) for s in range(0, 61, batch)]
    out = []
    for item in iter_pixel_batches(table, ranges, transform, workers):
        assert item.slot is None
        raw = tuple(bytes(np.asarray(r)) for r in item.raw)
        out.append((item.start, np.asarray(item.pixels).copy(), item.ok.copy(), item.pixel_rows, item.raw_rows, raw))
    return out


def assert_same(a: list[tuple], b: list[tuple]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert x[0] == y[0]
        np.testing.assert_array_equal(x[1], y[1])
        np.testing.assert_array_equal(x[2], y[2])
        for u, v in zip(x[3:5], y[3:5], strict=True):
            assert (u is None) == (v is None)
            if u is not None:
                np.testing.assert_array_equal(u, v)
        assert x[5] == y[5]


@pytest.mark.parametrize("workers", [1, 2])
def test_workers_match_the_main_process_across_reused_slots(table: object, workers: int) -> None:
    transform = ImageTransform(16)
    batch = 3  # 21 batches: each slot of the ring is reused several times
    assert 61 // batch > 3 * (workers * PREFETCH_PER_WORKER + 2)
    expected = collect(table, transform, 0, batch)
    got = collect(table, transform, workers, batch)
    assert_same(expected, got)
    ok = np.concatenate([x[2] for x in got])
    assert not ok[8::9].any() and ok.sum() == 61 - len(range(8, 61, 9))
    for item in got:  # a bad row is zeros, not the previous occupant of the slot
        assert not item[1][~item[2]].any()


def test_workers_leave_jpegs_to_the_device_like_the_main_process(table: object) -> None:
    transform = ImageTransform(16, decode="torchvision")
    expected = collect(table, transform, 0, 4)
    got = collect(table, transform, 2, 4)
    assert_same(expected, got)
    decoded_rows = [x[0] + r for x in got for r in x[3]]
    assert decoded_rows == list(PNG_ROWS)  # only the PNGs were decoded in the workers


def test_one_batch_or_no_workers_never_starts_a_pool(table: object) -> None:
    transform = ImageTransform(16)
    single = list(iter_pixel_batches(table, [(0, 61)], transform, 4))
    assert len(single) == 1 and isinstance(single[0].pixels, np.ndarray) and single[0].pixels.shape[0] == 61
