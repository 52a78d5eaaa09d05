"""Style diagnostics of a caption set, and the caption cache's per-rank shards."""

from __future__ import annotations

from pathlib import Path

import pytest

from muge_eval.caption.cache import CaptionCache
from muge_eval.caption.style import style_diagnostics
from muge_eval.caption.tokenizers import CharTokenizer


def test_lengths_share_and_vocabularies() -> None:
    tokenizer = CharTokenizer()
    captions = ["红色 连衣裙", "这是一张图片，图片里有一件很漂亮的红色连衣裙", "ｉＰｈｏｎｅ"]
    references = [["红色裙子", "连衣裙"], ["蓝色帽子"], ["iphone手机"]]
    style = style_diagnostics(
        captions,
        references,
        [tokenizer.tokenize(c) for c in captions],
        [[tokenizer.tokenize(r) for r in refs] for refs in references],
    )
    # 5 characters (the space is not one), 22, and 6 after NFKC
    assert [length for length, _ in style.per_image] == [5, 22, 6]
    assert [ref for _, ref in style.per_image] == [3.5, 4.0, 8.0]
    summary = style.summary
    assert summary["mean_caption_chars"] == pytest.approx(11.0)
    assert summary["mean_reference_chars"] == pytest.approx(15.5 / 3)
    assert summary["over_twice_reference_share"] == pytest.approx(1 / 3)
    assert summary["caption_vocabulary"] == len(set("红色连衣裙这是一张图片里有件很漂亮的")) + 1  # + "iphone"
    assert not style.notes
    chatty = style_diagnostics([captions[1]] * 2, [["红裙"]] * 2, [["x"]] * 2, [[["x"]]] * 2)
    assert chatty.notes and "over twice" in chatty.notes[0]


def test_rank_shards_are_read_and_merged(tmp_path: Path) -> None:
    main = CaptionCache(tmp_path, "model", {"beams": 1})
    main.load()
    main.append({"a": "红色"})
    worker = CaptionCache(tmp_path, "model", {"beams": 1})
    worker.load()
    worker.use_shard(1)
    worker.append({"b": "蓝色", "a": "红色"})
    assert CaptionCache(tmp_path, "model", {"beams": 1}).load() == {"a": "红色", "b": "蓝色"}
    main.merge_shards()
    assert sorted(p.name for p in tmp_path.iterdir()) == [main.path.name]
    assert main.path.read_text(encoding="utf-8").count("\n") == 3  # header, a, b
    assert CaptionCache(tmp_path, "model", {"beams": 1}).load() == {"a": "红色", "b": "蓝色"}
