"""Tokenizer cases: mixed scripts, full-width forms, punctuation, emoji, empty text, and
jieba's isolation from a user's global dictionary edits."""

from __future__ import annotations

from pathlib import Path

import pytest

from muge_eval.caption.tokenizers import (
    CharTokenizer,
    JiebaTokenizer,
    WhitespaceTokenizer,
    build_tokenizer,
)
from muge_eval.errors import UsageError
from muge_eval.plugins import build_registries


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("红色连衣裙", ["红", "色", "连", "衣", "裙"]),
        ("iPhone12手机壳", ["iphone12", "手", "机", "壳"]),
        ("新款 XL 码T恤", ["新", "款", "xl", "码", "t", "恤"]),
        ("ＡＢＣ１２３全角", ["abc123", "全", "角"]),  # NFKC folds full-width forms
        ("好看！简约，百搭。", ["好", "看", "简", "约", "百", "搭"]),
        ("「限量」《新品》", ["限", "量", "新", "品"]),
        ("3.5寸", ["3", "5", "寸"]),
        ("送女友❤️礼物🎁", ["送", "女", "友", "❤\ufe0f", "礼", "物", "🎁"]),
        ("a\u200db", ["a", "b"]),  # a dropped character separates, like punctuation
        ("", []),
        ("  ，。！  ", []),
        ("Ⅻ号", ["xii", "号"]),
    ],
)
def test_char_tokenizer(text: str, tokens: list[str]) -> None:
    assert CharTokenizer().tokenize(text) == tokens


def test_char_tokenizer_lowercases_ascii_only() -> None:
    assert CharTokenizer().tokenize("ÄBC") == ["Ä", "bc"]


def test_whitespace_tokenizer() -> None:
    assert WhitespaceTokenizer().tokenize(" 红色 连衣裙\t新款\n") == ["红色", "连衣裙", "新款"]
    assert WhitespaceTokenizer().tokenize("") == []


def test_jieba_tokens_and_cache_dir(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tokenizer = JiebaTokenizer(cache_dir=tmp_path / "jieba")
    assert tokenizer.tokenize("我爱北京天安门！") == ["我", "爱", "北京", "天安门"]
    assert tokenizer.tokenize("") == []
    assert tokenizer.tokenize("，。") == []
    assert (tmp_path / "jieba" / "jieba.cache").is_file()
    captured = capfd.readouterr()
    assert "Building prefix dict" not in captured.err + captured.out
    assert tokenizer.describe()["versions"]["jieba"] == "0.42.1"


def test_jieba_is_isolated_from_global_dictionary_edits(tmp_path: Path) -> None:
    import jieba

    text = "这款商品是蓝牙耳机套装"
    before = JiebaTokenizer(cache_dir=tmp_path).tokenize(text)
    jieba.add_word("蓝牙耳机套装", freq=10**9)
    jieba.del_word("商品")  # jieba's only global HMM state: a forced split
    try:
        assert "蓝牙耳机套装" in jieba.lcut(text)  # the global tokenizer did change
        assert JiebaTokenizer(cache_dir=tmp_path).tokenize(text) == before
        assert "蓝牙耳机套装" not in before
    finally:
        jieba.del_word("蓝牙耳机套装")
        from jieba import finalseg

        finalseg.Force_Split_Words.discard("商品")
        finalseg.Force_Split_Words.discard("蓝牙耳机套装")


def test_registry_lookup() -> None:
    registry = build_registries().tokenizers
    assert isinstance(build_tokenizer("char", registry), CharTokenizer)
    assert isinstance(
        build_tokenizer("muge_eval.caption.tokenizers:WhitespaceTokenizer", registry), WhitespaceTokenizer
    )
    with pytest.raises(UsageError, match="did you mean 'jieba'"):
        build_tokenizer("jeiba", registry)
