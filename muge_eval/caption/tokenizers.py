"""Caption tokenizers. The tokens decide the score, so each tokenizer records its name,
settings and the versions it depends on in every results file.

* ``char`` (the MUGE rule, default for MUGE cards): Unicode NFKC, ASCII lower-cased,
  whitespace and punctuation (category P) dropped, each run of ASCII letters or digits one
  token, every other character (Chinese characters, kana, symbols, emoji) one token.
  Control and format characters (category C, e.g. zero-width joiners) are dropped and
  combining marks (category M, e.g. emoji variation selectors) stay with the character
  before them.
* ``jieba`` (AI Challenger convention): the same normalisation, then jieba 0.42.1 precise
  mode with HMM on a private ``jieba.Tokenizer()``; whitespace and punctuation-only tokens
  are dropped.
* ``whitespace``: the text is already segmented; tokens are what ``str.split()`` gives.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import os
import tempfile
import threading
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Protocol

from muge_eval.cache import cache_dir as cache_folder
from muge_eval.environment import package_version
from muge_eval.errors import UsageError
from muge_eval.registry import Registry, import_object


class CaptionTokenizer(Protocol):
    """What the caption task needs from a tokenizer."""

    name: str

    def tokenize(self, text: str) -> list[str]: ...

    def describe(self) -> dict[str, Any]: ...


def normalize(text: str) -> str:
    """NFKC, then ASCII letters lower-cased (other scripts are left as they are)."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch.lower() if "A" <= ch <= "Z" else ch for ch in text)


def _is_ascii_alnum(ch: str) -> bool:
    return ch.isascii() and ch.isalnum()


def char_tokens(text: str) -> list[str]:
    """The MUGE character rule on already normalised text."""
    tokens: list[str] = []
    run: list[str] = []
    for ch in text:
        if _is_ascii_alnum(ch):
            run.append(ch)
            continue
        if run:
            tokens.append("".join(run))
            run = []
        if ch.isspace():
            continue
        category = unicodedata.category(ch)
        if category[0] in "PZC":
            continue
        if category[0] == "M":
            if tokens:
                tokens[-1] += ch
            continue
        tokens.append(ch)
    if run:
        tokens.append("".join(run))
    return tokens


def _keep_jieba_token(token: str) -> bool:
    """A jieba token is dropped when it holds nothing but whitespace and punctuation."""
    return any(not ch.isspace() and unicodedata.category(ch)[0] not in "PZC" for ch in token)


class CharTokenizer:
    """Each Chinese character one token, each ASCII letter/digit run one token."""

    name = "char"

    def tokenize(self, text: str) -> list[str]:
        return char_tokens(normalize(text))

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "settings": {
                "normalize": "NFKC, ASCII lower-cased",
                "drop": "whitespace, punctuation (Unicode P), control/format (Unicode C)",
                "split": "one token per character; a run of ASCII letters or digits is one token; "
                "combining marks stay with the previous character",
            },
            "versions": {"unicodedata": unicodedata.unidata_version},
        }


def _writable_dir(preferred: Path) -> Path:
    try:
        preferred.mkdir(parents=True, exist_ok=True)
        if os.access(preferred, os.W_OK):
            return preferred
    except OSError:
        pass
    return Path(tempfile.mkdtemp(prefix="muge-eval-jieba-"))


@contextlib.contextmanager
def _quiet_logger(logger: logging.Logger) -> Iterator[None]:
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.setLevel(level)


class JiebaTokenizer:
    """jieba precise mode with HMM, isolated from the user's global jieba state.

    A private ``jieba.Tokenizer()`` ignores ``jieba.add_word``/``load_userdict`` on the
    global instance. jieba keeps one global set, ``finalseg.Force_Split_Words`` (filled by
    ``jieba.del_word``), that its HMM step reads; it is emptied while we cut and restored
    after, under a lock. ``enable_paddle()`` is never called.
    """

    name = "jieba"
    _lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, cache_dir: Path | None = None, hmm: bool = True):
        self.cache_dir = cache_dir
        self.hmm = hmm
        self._tokenizer: Any = None

    def _load(self) -> Any:
        if self._tokenizer is None:
            import jieba

            tokenizer = jieba.Tokenizer()
            tokenizer.tmp_dir = str(_writable_dir(self.cache_dir or cache_folder("jieba")))
            with _quiet_logger(jieba.default_logger):
                tokenizer.initialize()
            self._tokenizer = tokenizer
        return self._tokenizer

    def tokenize(self, text: str) -> list[str]:
        return self.tokenize_many([text])[0]

    def tokenize_many(self, texts: list[str]) -> list[list[str]]:
        from jieba import finalseg

        tokenizer = self._load()
        with self._lock:
            saved = set(finalseg.Force_Split_Words)
            finalseg.Force_Split_Words.clear()
            try:
                return [
                    [t for t in tokenizer.lcut(normalize(text), cut_all=False, HMM=self.hmm) if _keep_jieba_token(t)]
                    for text in texts
                ]
            finally:
                finalseg.Force_Split_Words.update(saved)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "settings": {
                "normalize": "NFKC, ASCII lower-cased",
                "mode": "precise (cut_all=False)",
                "hmm": self.hmm,
                "dictionary": "jieba default dictionary, private jieba.Tokenizer()",
                "drop": "tokens of only whitespace/punctuation",
            },
            "versions": {"jieba": package_version("jieba") or "not installed"},
        }


class WhitespaceTokenizer:
    """Already segmented text: tokens are separated by whitespace, nothing else is changed."""

    name = "whitespace"

    def tokenize(self, text: str) -> list[str]:
        return text.split()

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "settings": {"split": "str.split() on whitespace, no normalisation"}, "versions": {}}


def tokenize_all(tokenizer: CaptionTokenizer, texts: list[str]) -> list[list[str]]:
    """Tokens of many texts; uses the tokenizer's batch method when it has one."""
    many = getattr(tokenizer, "tokenize_many", None)
    if callable(many):
        result: list[list[str]] = many(texts)
        return result
    return [tokenizer.tokenize(t) for t in texts]


def is_tokenizer_class(obj: Any) -> bool:
    """A class with the tokenizer methods (``tokenize`` and ``describe``), checked before
    anything is called: ``--tokenizer os:system`` names a function, which is refused."""
    return inspect.isclass(obj) and all(callable(getattr(obj, method, None)) for method in ("tokenize", "describe"))


def build_tokenizer(name: str, registry: Registry[Any]) -> CaptionTokenizer:
    """A tokenizer of the session's registry (built-ins and entry points), or a
    ``module:Class`` that is a tokenizer class; anything else is refused without being
    called."""
    if name in registry:
        factory = registry.get(name)
    elif ":" in name:
        factory = import_object(name)
        if not is_tokenizer_class(factory):
            raise UsageError(
                f"tokenizer {name!r} is not a tokenizer class (a class with tokenize(text) and describe() "
                f"methods); registered tokenizers: {', '.join(registry.names())}"
            )
    else:
        raise UsageError(registry.unknown_message(name))
    tokenizer = factory() if callable(factory) else factory
    if not callable(getattr(tokenizer, "tokenize", None)):
        raise UsageError(f"tokenizer {name!r} has no tokenize(text) method")
    return tokenizer
