"""`hf-vlm`: a tiny random Qwen2.5-VL built in the test (model, processor, chat template),
captioning through its chat template with the card's prompt, batched like one at a time,
settings recorded, captions cached."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from caption_helpers import make_tiny_vlm, write_muge_split
from click.testing import CliRunner
from PIL import Image

from muge_eval.caption.adapters.hf_vlm import HFVisionLanguageCaptioner, clean_caption
from muge_eval.cli.main import main
from muge_eval.plugins import build_registries, resolve_card

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_vlm(tmp_path_factory.mktemp("vlm") / "ckpt")


def test_clean_caption() -> None:
    assert clean_caption("<think>红色?</think> 红色 连衣裙\n 简约 ") == "红色连衣裙简约"
    assert clean_caption("iPhone 12  手机壳") == "iPhone 12手机壳"


def test_batched_generation_equals_one_at_a_time(checkpoint: Path) -> None:
    model = HFVisionLanguageCaptioner(str(checkpoint), device="cpu", max_new_tokens=6, instruction="请描述")
    images = [Image.new("RGB", (40, 60), (200, 10, 10)), Image.new("RGB", (64, 64), (10, 10, 200)),
              Image.new("RGB", (90, 30), (10, 200, 10))]  # fmt: skip
    batched = model.caption(images)
    assert batched == [model.caption([image])[0] for image in images]
    assert all(isinstance(c, str) for c in batched)
    assert model.generation_settings()["prompt"] == "请描述" and model.protocol()["prompt_from"] == "task card"
    assert HFVisionLanguageCaptioner(str(checkpoint), device="cpu", prompt="写").prompt == "写"


def test_run_with_the_cards_prompt_and_the_cache(checkpoint: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_muge_split(data, None, count=5)
    args = ["--quiet", "run", "--task", "muge-caption", "--data-dir", str(data), "--model", "hf-vlm",
            "--model-args", f"model={checkpoint},device=cpu,max_new_tokens=8", "--batch-size", "2",
            "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--output-dir", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    document = json.loads((tmp_path / "a" / "results.json").read_text())
    card_prompt = resolve_card(build_registries(), "muge-caption").options["caption_prompt"]
    generation = document["protocol"]["generation"]
    assert generation["prompt"] == card_prompt == document["protocol"]["caption_prompt"]
    assert document["model"]["protocol"]["prompt_from"] == "task card"
    assert len(generation["chat_template_sha256"]) == 64 and generation["do_sample"] is False
    style = document["diagnostics"]["style"]
    assert style["mean_reference_chars"] > 0 and "caption_vocabulary" in style
    lines = (tmp_path / "a" / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 5
    result = CliRunner().invoke(main, [*args, "--output-dir", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    again = json.loads((tmp_path / "b" / "results.json").read_text())
    assert any("5 captions reused" in note for note in again["notes"])
    assert again["metrics"] == document["metrics"]
