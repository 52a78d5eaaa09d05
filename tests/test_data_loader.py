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

from muge_eval.data import loader
from muge_eval.data.decode_plan import DecodePlan, plan_decoding
from muge_eval.data.image_table import image_table_from_tsv
from muge_eval.data.image_transform import ImageTransform
from muge_eval.data.loader import PREFETCH_PER_WORKER, iter_pixel_batches
from muge_eval.encoding.images import TableImageRows

torch = pytest.importorskip("torch")

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
    table = image_table_from_tsv(path, "int", "loader-test", directory / "cache")
    return TableImageRows(table, list(range(61)), str(path))


def collect(table: object, transform: ImageTransform, workers: int, batch: int, adaptive: bool = False) -> list[tuple]:
    ranges = [(s, min(61, s + batch)) for s in range(0, 61, batch)]
    out = []
    for item in iter_pixel_batches(table, ranges, transform, workers, adaptive=adaptive):
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


def test_the_adaptive_plan_is_followed_and_torch_threads_come_back(
    table: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    transform = ImageTransform(16)
    expected = collect(table, transform, 0, 4)
    before = torch.get_num_threads()
    seen: list[tuple[int, int]] = []
    monkeypatch.setattr(loader, "_plan", lambda *args: seen.append(args[2:4]) or DecodePlan(2, 1, 0.0, 1.0))
    threads_during = []
    ranges = [(s, min(61, s + 4)) for s in range(0, 61, 4)]
    got = []
    for item in iter_pixel_batches(table, ranges, transform, 3):
        threads_during.append(torch.get_num_threads())
        got.append((item.start, np.asarray(item.pixels).copy(), item.ok.copy(), None, None, ()))
    assert_same([(x[0], x[1], x[2], None, None, ()) for x in expected], got)
    assert seen == [(len(ranges) - loader.PROBE_BATCHES, 3)]  # batches left, the cap on workers
    assert threads_during[: loader.PROBE_BATCHES] == [before] * loader.PROBE_BATCHES
    assert set(threads_during[loader.PROBE_BATCHES :]) == {1}
    assert torch.get_num_threads() == before
    monkeypatch.setattr(loader, "_plan", lambda *args: DecodePlan(0, None, 1.0, 1.0))
    assert_same(expected, collect(table, transform, 3, 4, adaptive=True))


def test_plan_keeps_a_cpu_model_on_all_cores_when_decoding_is_cheap() -> None:
    # 2 cores, decoding a third of the work: a worker would take a core from the model.
    plan = plan_decoding(0.3, 0.55, 100, 1, cores=2, threads=2, model_on_cpu=True)
    assert plan.workers == 0 and plan.model_threads is None
    # 16 cores: the same costs are decoded by workers while the model keeps the rest.
    plan = plan_decoding(0.3, 0.55 * 2 / 16, 100, 15, cores=16, threads=16, model_on_cpu=True)
    assert plan.workers >= 2 and plan.workers + plan.model_threads <= 16
    assert plan.predicted_s < 0.9 * plan.main_process_s
    # A model on a GPU does not need the cores: as many workers as help, threads unchanged.
    plan = plan_decoding(0.3, 0.05, 100, 7, cores=8, threads=8, model_on_cpu=False)
    assert plan.workers == 6 and plan.model_threads is None  # 0.3 / 6 = 0.05: the GPU's pace
    # One core, or too few batches to pay for starting workers: the main process.
    assert plan_decoding(0.3, 0.05, 100, 4, cores=1, threads=1, model_on_cpu=True).workers == 0
    assert plan_decoding(0.01, 0.0, 3, 4, cores=8, threads=8, model_on_cpu=False).workers == 0
