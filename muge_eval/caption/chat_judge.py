"""A judge model behind any OpenAI-compatible chat endpoint (a Qwen-VL served by vLLM,
say): fixed Chinese rubrics shipped in the package, answers parsed from JSON, cached.

Requests go through ``muge_eval.models.http_client`` (timeouts, bounded retries on 429 and
5xx, bounded concurrency; the API key read from the environment when a request is sent and
never stored). Temperature is 0. An answer that cannot be parsed is asked again, at most
``repair_attempts`` times, with the answer and a short reminder of the format; after that
the run stops with an error that names the item (the answers already cached are kept, so a
rerun asks only for the rest).
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Generic, TypeVar

from PIL import Image

from muge_eval.caption.adapters.openai_chat import JPEG_QUALITY, image_data_url, message_text
from muge_eval.caption.cache import JsonlCache
from muge_eval.errors import MugeEvalError, UsageError
from muge_eval.io.safe_json import MAX_DEPTH, nested_deeper_than
from muge_eval.models.http_client import JsonHttpClient, api_key_from_env, redact

JUDGE_CACHE_VERSION = 1
# How much of a judge's answer is searched for its JSON object.
MAX_SCANNED_CHARS = 20_000
MAX_OBJECT_STARTS = 200
TEMPERATURE = 0.0
Parsed = TypeVar("Parsed")


class JudgeError(MugeEvalError):
    """A judge model's answer could not be used."""

    exit_code = 1


@dataclass(frozen=True)
class Rubric:
    """A prompt template shipped in the package; ``{name}`` fields are filled by ``render``."""

    name: str
    text: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def render(self, **values: str) -> str:
        text = self.text
        for name, value in values.items():
            text = text.replace("{" + name + "}", value)
        return text


def load_rubric(name: str) -> Rubric:
    text = resources.files("muge_eval.caption").joinpath(f"rubrics/{name}").read_text(encoding="utf-8")
    return Rubric(name, text)


def numbered(references: Sequence[str]) -> str:
    return "\n".join(f"{k}. {r}" for k, r in enumerate(references, start=1)) or "（无）"


@dataclass(frozen=True)
class ChatJudgeSettings:
    """Where the judge is served and how it is asked (``--llm-judge-args k=v,...``)."""

    model: str
    base_url: str = "http://127.0.0.1:8000/v1"
    api_key_env: str = "OPENAI_API_KEY"
    concurrency: int = 4
    timeout_s: float = 60.0
    max_retries: int = 4
    backoff_s: float = 0.5
    max_tokens: int = 256
    repair_attempts: int = 2

    @classmethod
    def parse(cls, model: str, args: Mapping[str, str], flag: str) -> ChatJudgeSettings:
        """Settings from ``k=v`` strings, converted to each field's type."""
        fields = {f.name: f for f in dataclasses.fields(cls) if f.name != "model"}
        unknown = sorted(set(args) - set(fields))
        if unknown:
            raise UsageError(f"{flag}: unknown setting(s) {', '.join(unknown)} (known: {', '.join(fields)})")
        values: dict[str, Any] = {}
        for name, raw in args.items():
            kind = type(getattr(cls, name))
            try:
                values[name] = kind(raw)
            except ValueError:
                raise UsageError(f"{flag}: {name}={raw!r} is not a valid {kind.__name__}") from None
        settings = cls(model, **values)
        if settings.concurrency < 1 or settings.max_tokens < 1 or settings.max_retries < 0:
            raise UsageError(f"{flag}: concurrency and max_tokens must be at least 1, max_retries at least 0")
        if not 0 <= settings.repair_attempts <= 5:
            raise UsageError(f"{flag}: repair_attempts must be between 0 and 5")
        return settings

    def recorded(self) -> dict[str, Any]:
        """What the results say about the judge (the key's variable name, never the key)."""
        return {
            "served_model": self.model,
            "server": self.base_url.rstrip("/"),
            "api_key": f"read from ${self.api_key_env}" if self.api_key_env else "none",
            "temperature": TEMPERATURE,
            "max_tokens": self.max_tokens,
            "repair_attempts": self.repair_attempts,
            "image": f"RGB JPEG quality {JPEG_QUALITY} as a base64 data URL",
        }

    def answer_identity(self) -> dict[str, Any]:
        """What changes the judge's answers (keys the judgement cache)."""
        return {
            "server": self.base_url.rstrip("/"),
            "model": self.model,
            "temperature": TEMPERATURE,
            "max_tokens": self.max_tokens,
            "image": JPEG_QUALITY,
        }


def first_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object in ``text`` (code fences and chatter around it are ignored).

    Only the first ``MAX_SCANNED_CHARS`` characters and ``MAX_OBJECT_STARTS`` opening braces
    are tried (an answer is at most ``max_tokens`` long; a hostile one could otherwise make
    every brace parse to the end of megabytes of text), and an object nested too deep to
    walk, or with a number too long to convert, is not one.
    """
    decoder = json.JSONDecoder()
    text = text[:MAX_SCANNED_CHARS]
    for match in itertools.islice(re.finditer(r"\{", text), MAX_OBJECT_STARTS):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except (ValueError, RecursionError):  # JSONDecodeError, a 4,300-digit integer, deep nesting
            continue
        if isinstance(value, dict) and not nested_deeper_than(value, MAX_DEPTH):
            return value
    return None


def judgement_cache(
    directory: Path, kind: str, settings: ChatJudgeSettings, rubric: Rubric, check: Callable[[dict[str, Any]], bool]
) -> JsonlCache:
    """The cache of one judge's answers to one rubric; records are keyed by ``key`` and a
    record that ``check`` refuses (a damaged file) is asked again."""
    identity = {
        "kind": kind,
        "judge": settings.answer_identity(),
        "rubric": rubric.name,
        "rubric_sha256": rubric.sha256,
        "repair": load_rubric("repair_zh.txt").sha256,
        "version": JUDGE_CACHE_VERSION,
    }
    key = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()
    header = {"kind": f"muge-eval judgements ({kind})", "key": key, **identity}
    return JsonlCache(directory / f"{key[:32]}.jsonl", header, "key", check)


def item_key(*parts: Any) -> str:
    """A judgement's cache key: what was judged, exactly."""
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Question:
    """One request to the judge: an image, a filled rubric, and a label for messages."""

    label: str
    image: Image.Image
    prompt: str


@dataclass(frozen=True)
class Answer(Generic[Parsed]):
    parsed: Parsed
    text: str
    attempts: int


class ChatJudge(Generic[Parsed]):
    """Asks a served model questions and parses its answers with ``parse`` (None: cannot)."""

    def __init__(
        self, settings: ChatJudgeSettings, parse: Callable[[str], Parsed | None], client: JsonHttpClient | None = None
    ):
        self.settings = settings
        self.parse = parse
        s = settings
        self.client = client or JsonHttpClient.for_adapter(
            s.base_url, s.api_key_env, s.timeout_s, s.max_retries, s.backoff_s, s.concurrency
        )
        self.repair = load_rubric("repair_zh.txt").text.strip()

    def _payload(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "model": self.settings.model,
            "messages": messages,
            "max_tokens": self.settings.max_tokens,
            "temperature": TEMPERATURE,
        }

    def ask(self, questions: Sequence[Question]) -> list[Answer[Parsed]]:
        """Every question's parsed answer, in order (requests concurrent, at most
        ``concurrency`` at a time)."""
        url = self.client.url("chat/completions")
        chats: list[list[dict[str, Any]]] = [
            [
                {
                    "role": "user",
                    "content": [
                        {"type": "image_url", "image_url": {"url": image_data_url(q.image)}},
                        {"type": "text", "text": q.prompt},
                    ],
                }
            ]
            for q in questions
        ]
        answers: list[Answer[Parsed] | None] = [None] * len(questions)
        texts = [""] * len(questions)
        pending = list(range(len(questions)))
        for attempt in range(1 + self.settings.repair_attempts):
            if not pending:
                break
            if attempt:  # show the model its answer and ask again for the format only
                for index in pending:
                    chats[index] = [
                        *chats[index],
                        {"role": "assistant", "content": texts[index]},
                        {"role": "user", "content": self.repair},
                    ]
            replies = self.client.map_post_json("chat/completions", [self._payload(chats[i]) for i in pending])
            still = []
            for index, reply in zip(pending, replies, strict=True):
                texts[index] = message_text(reply, url)
                parsed = self.parse(texts[index])
                if parsed is None:
                    still.append(index)
                else:
                    answers[index] = Answer(parsed, texts[index], attempt + 1)
            pending = still
        if pending:
            key = api_key_from_env(self.settings.api_key_env)  # a server could echo it: never show it
            shown = "; ".join(f"{questions[i].label}: {redact(texts[i][:120], key)!r}" for i in pending[:5])
            raise JudgeError(
                f"the judge {self.settings.model} at {self.client.base_url} gave {len(pending)} answer(s) that "
                f"could not be parsed after {1 + self.settings.repair_attempts} attempt(s) ({shown}); the answers "
                "already given are cached: rerun to continue, or check that the model follows the rubric's format"
            )
        return [a for a in answers if a is not None]
