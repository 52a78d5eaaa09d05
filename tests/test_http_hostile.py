"""Every HTTP adapter against hostile and broken servers on 127.0.0.1: a redirect to another
origin, answers that echo the request's headers, answers that trickle, huge answers and
malformed ones. The key is never sent to another origin, never printed, never written,
and each request ends within its deadline."""

from __future__ import annotations

import base64
import io
import json
import struct
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from caption_helpers import write_muge_split
from click.testing import CliRunner
from hostile_server import (
    Action,
    HostileServer,
    Seen,
    answer_bytes,
    answer_json,
    echo_headers,
    echo_key_escaped,
    escaped,
    huge_declared,
    huge_streamed,
    redirect,
    trickle_body,
    trickle_status,
)
from PIL import Image
from t2i_helpers import write_dataset

from muge_eval.caption.adapters.openai_chat import OpenAIChatCaptioner
from muge_eval.caption.chat_judge import ChatJudge, ChatJudgeSettings, JudgeError, Question
from muge_eval.caption.llm_judge import parse_score
from muge_eval.cli.main import main
from muge_eval.errors import MugeEvalError
from muge_eval.models.http_client import HttpError, JsonHttpClient, RetryPolicy
from muge_eval.retrieval.adapters.openai_embeddings import OpenAIEmbeddings
from muge_eval.t2i.adapters.openai_images import OpenAIImagesGenerator

KEY_ENV = "MUGE_TEST_HOSTILE_KEY"
KEY = "sk-hostile-0123456789abcdef"
DEADLINE_S = 0.6


def chat_answer(text: str) -> dict[str, Any]:
    return {"choices": [{"message": {"role": "assistant", "content": text}}]}


def png_b64(size: int = 8) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (size, size), (200, 30, 30)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def embeddings_answer(text: str = "") -> dict[str, Any]:
    """One embedding; ``text`` rides in a field a client ignores (a server may add any)."""
    return {"data": [{"index": 0, "embedding": [0.6, 0.8], "object": text or "embedding"}]}


def judge_settings(url: str, retries: int) -> ChatJudgeSettings:
    return ChatJudgeSettings(
        "m", base_url=url, api_key_env=KEY_ENV, timeout_s=DEADLINE_S, max_retries=retries, backoff_s=0.0,
        repair_attempts=1,
    )  # fmt: skip


def images_answer(b64: str) -> dict[str, Any]:
    return {"data": [{"b64_json": b64}]}


def bomb_png_b64() -> str:
    """A valid PNG header that claims 65000 x 65000 pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 65000, 65000, 8, 2, 0, 0, 0)
    data = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b"")
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class HttpAdapter:
    """One adapter that talks HTTP: how to build it, call it once, and what a good answer is."""

    name: str
    build: Callable[[str, int], Any]
    call: Callable[[Any], Any]
    good: Callable[[], dict[str, Any]]
    wrap_text: Callable[[str], dict[str, Any]]  # a 200 answer that carries ``text`` where output goes


ADAPTERS = (
    HttpAdapter(
        "client",
        lambda url, retries: JsonHttpClient(
            url, api_key_env=KEY_ENV, timeout_s=DEADLINE_S, retry=RetryPolicy(retries, 0.0, 0.0)
        ),
        lambda client: client.post_json("chat/completions", {"x": 1}),
        lambda: chat_answer("好"),
        chat_answer,
    ),
    HttpAdapter(
        "openai-chat",
        lambda url, retries: OpenAIChatCaptioner(
            "m", base_url=url, api_key_env=KEY_ENV, timeout_s=DEADLINE_S, max_retries=retries, backoff_s=0.0
        ),
        lambda adapter: adapter.caption([Image.new("RGB", (8, 8), (1, 2, 3))]),
        lambda: chat_answer("好"),
        chat_answer,
    ),
    HttpAdapter(
        "openai-images",
        lambda url, retries: OpenAIImagesGenerator(
            "m", base_url=url, api_key_env=KEY_ENV, timeout_s=DEADLINE_S, max_retries=retries, backoff_s=0.0
        ),
        lambda adapter: adapter.generate(["红色"], [1]),
        lambda: images_answer(png_b64()),
        images_answer,
    ),
    HttpAdapter(
        "chat-judge",
        lambda url, retries: ChatJudge(judge_settings(url, retries), parse_score),
        lambda judge: judge.ask([Question("image 1", Image.new("RGB", (8, 8), (1, 2, 3)), "评分")]),
        lambda: chat_answer('{"score": 7, "reason": "好"}'),
        chat_answer,
    ),
    HttpAdapter(
        "openai-embeddings",
        lambda url, retries: OpenAIEmbeddings(
            "m", base_url=url, api_key_env=KEY_ENV, timeout_s=DEADLINE_S, max_retries=retries, backoff_s=0.0
        ),
        lambda adapter: adapter.encode_texts(["红色"]),
        embeddings_answer,
        embeddings_answer,
    ),
)
BY_NAME = pytest.mark.parametrize("adapter", ADAPTERS, ids=[a.name for a in ADAPTERS])


@pytest.fixture(autouse=True)
def api_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY)
    for name in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def always(action: Action) -> Callable[[int, Seen], Action]:
    return lambda number, seen: action


def failure_of(adapter: HttpAdapter, url: str, retries: int = 0) -> tuple[MugeEvalError, float]:
    """The error the adapter raises, and how long the call took."""
    client = adapter.build(url, retries)
    started = time.perf_counter()
    with pytest.raises(MugeEvalError) as info:
        adapter.call(client)
    return info.value, time.perf_counter() - started


@BY_NAME
def test_a_good_answer_works_and_carries_the_key(adapter: HttpAdapter) -> None:
    with HostileServer(always(answer_json(adapter.good()))) as server:
        adapter.call(adapter.build(server.url, 0))
    assert server.seen[0].headers["Authorization"] == f"Bearer {KEY}"


@BY_NAME
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_to_another_origin_is_not_followed(adapter: HttpAdapter, status: int) -> None:
    with HostileServer(always(answer_json(adapter.good()))) as elsewhere:
        target = elsewhere.url.replace("/v1", "/steal") + f"?token={KEY}"
        with HostileServer(always(redirect(target, status))) as server:
            error, _ = failure_of(adapter, server.url, retries=2)
    assert elsewhere.seen == []  # nothing at all reached the other origin
    assert len(server.seen) == 1  # and a redirect is not retried
    assert f"HTTP {status}, a redirect to {elsewhere.url.removesuffix('/v1')}" in str(error)
    assert KEY not in str(error)


@BY_NAME
def test_a_same_origin_redirect_is_refused_too(adapter: HttpAdapter) -> None:
    with HostileServer(always(redirect("/v2/elsewhere"))) as server:
        error, _ = failure_of(adapter, server.url)
    assert "redirects are not followed" in str(error) and len(server.seen) == 1


@BY_NAME
@pytest.mark.parametrize("status", [400, 401, 500])
def test_an_error_answer_that_echoes_the_headers_is_redacted(adapter: HttpAdapter, status: int) -> None:
    with HostileServer(always(echo_headers(status))) as server:
        error, _ = failure_of(adapter, server.url, retries=1)
    message = str(error)
    assert KEY not in message and "<redacted>" in message


@BY_NAME
def test_a_good_answer_that_echoes_the_headers_never_hands_the_key_on(adapter: HttpAdapter) -> None:
    with HostileServer(always(echo_headers(200, adapter.wrap_text))) as server:
        client = adapter.build(server.url, 0)
        try:
            result = adapter.call(client)
        except MugeEvalError as exc:  # images: the "image" is the header text
            result = str(exc)
    assert KEY not in repr(result)
    assert KEY[:12] not in repr(result)


@BY_NAME
@pytest.mark.parametrize("status", [200, 400])
def test_a_key_echoed_with_json_escapes_is_redacted_too(adapter: HttpAdapter, status: int) -> None:
    """No literal copy of the key in the bytes, but the decoded answer holds it."""
    with HostileServer(always(echo_key_escaped(status, adapter.wrap_text))) as server:
        client = adapter.build(server.url, 0)
        try:
            result = repr(adapter.call(client))
        except MugeEvalError as exc:
            result = str(exc)
    assert server.seen and KEY not in result and escaped(KEY) not in result and KEY[:12] not in result


@BY_NAME
@pytest.mark.parametrize("trickle", [trickle_body, trickle_status], ids=["body", "headers"])
def test_a_trickling_answer_ends_at_the_deadline(adapter: HttpAdapter, trickle: Callable[[], Action]) -> None:
    with HostileServer(always(trickle())) as server:
        error, elapsed = failure_of(adapter, server.url, retries=1)
    assert f"no whole answer within {DEADLINE_S:g} s" in str(error)
    assert len(server.seen) == 2
    assert elapsed < 2 * DEADLINE_S + 1.0  # two attempts, each cut at its deadline


@BY_NAME
def test_a_huge_declared_answer_is_refused_unread(adapter: HttpAdapter) -> None:
    with HostileServer(always(huge_declared())) as server:
        error, elapsed = failure_of(adapter, server.url, retries=3)
    assert "over the limit" in str(error) and len(server.seen) == 1  # not retried
    assert elapsed < 1.0


@BY_NAME
def test_a_huge_streamed_answer_stops_at_the_cap(adapter: HttpAdapter) -> None:
    with HostileServer(always(huge_streamed(8 << 20))) as server:
        client = adapter.build(server.url, 0)
        (client if isinstance(client, JsonHttpClient) else client.client).max_answer_bytes = 1 << 20
        with pytest.raises(HttpError, match="over the limit of 1,048,576 bytes"):
            adapter.call(client)


MALFORMED: dict[str, Action] = {
    "not json": answer_bytes(b"<html>oops</html>"),
    "not utf-8": answer_bytes(b'{"a": "\xff\xfe"}'),
    "deep": answer_bytes(b"[" * 100_000 + b"]" * 100_000),
    "long integer": answer_bytes(b'{"choices": ' + b"7" * 5000 + b"}"),
    "repeated key": answer_bytes(b'{"choices": [], "choices": []}'),
    "wrong shape": answer_json({"choices": "no", "data": "no"}),
    "null": answer_json(None),
    "b64 not a string": answer_json({"data": [{"b64_json": 5}], "choices": [{"message": {"content": 5}}]}),
    "decompression bomb": answer_json({"data": [{"b64_json": bomb_png_b64()}], "choices": []}),
    "empty": answer_bytes(b""),
    # Python's json decodes it to a string no UTF-8 file can hold: a caption, a reason, a cache line.
    "lone surrogate": answer_bytes(
        b'{"choices": [{"message": {"content": "\\ud800"}}], "data": [{"b64_json": "\\ud800", "embedding": "\\udfff"}]}'
    ),
}


@pytest.mark.parametrize("adapter", [a for a in ADAPTERS if a.name != "client"], ids=lambda a: a.name)
@pytest.mark.parametrize("answer", list(MALFORMED), ids=list(MALFORMED))
def test_a_malformed_answer_is_one_clear_error(adapter: HttpAdapter, answer: str) -> None:
    with HostileServer(always(MALFORMED[answer])) as server:
        error, elapsed = failure_of(adapter, server.url)
    assert isinstance(error, HttpError) and server.url.removesuffix("/v1") in str(error)
    assert elapsed < 1.0


EMBEDDINGS: dict[str, Any] = {
    "indices of two types": [{"index": "a", "embedding": [1.0]}, {"index": 1, "embedding": [1.0]}],
    "indices that are objects": [{"index": {}, "embedding": [1.0]}, {"index": [], "embedding": [1.0]}],
    "an index twice": [{"index": 0, "embedding": [1.0, 0.0]}, {"index": 0, "embedding": [0.0, 1.0]}],
    "indices out of range": [{"index": 5, "embedding": [1.0, 0.0]}, {"index": 7, "embedding": [0.0, 1.0]}],
    "ragged": [{"index": 0, "embedding": [1.0, 2.0]}, {"index": 1, "embedding": [1.0]}],
    "booleans": [{"index": 0, "embedding": [True, False]}, {"index": 1, "embedding": [True, True]}],
    "a 400-digit integer": [{"index": 0, "embedding": [10**400, 0]}, {"index": 1, "embedding": [1, 1]}],
    "empty vectors": [{"index": 0, "embedding": []}, {"index": 1, "embedding": []}],
}


@pytest.mark.parametrize("answer", list(EMBEDDINGS), ids=list(EMBEDDINGS))
def test_a_malformed_embeddings_answer_is_one_clear_error(answer: str) -> None:
    with HostileServer(always(answer_json({"data": EMBEDDINGS[answer]}))) as server:
        adapter = OpenAIEmbeddings("m", base_url=server.url, api_key_env=KEY_ENV, timeout_s=DEADLINE_S, max_retries=0)
        with pytest.raises(HttpError, match=f"^{server.url}/embeddings answered with"):
            adapter.encode_texts(["红色", "蓝色"])


JUDGE_TEXTS = {
    "deep nesting": '{"score": ' + "[" * 100_000 + "]" * 100_000 + "}",
    "a 5000-digit score": '{"score": ' + "9" * 5000 + "}",
    "a million braces": "{" * 1_000_000,
    "unterminated strings after every brace": ('{"a": "' + "x" * 1000) * 2000,
    "objects opened and never closed": '{"a":' * 50_000,
}


@pytest.mark.parametrize("text", list(JUDGE_TEXTS), ids=list(JUDGE_TEXTS))
def test_a_hostile_judge_answer_is_refused_within_a_bounded_time(text: str) -> None:
    with HostileServer(always(answer_json(chat_answer(JUDGE_TEXTS[text])))) as server:
        judge = ChatJudge(judge_settings(server.url, 0), parse_score)
        started = time.perf_counter()
        with pytest.raises(JudgeError, match="could not be parsed after 2 attempt"):
            judge.ask([Question("image 1", Image.new("RGB", (8, 8)), "评分")])
    assert time.perf_counter() - started < 3.0 and len(server.seen) == 2


def test_chat_content_parts_that_are_not_text_are_skipped() -> None:
    answer = {"choices": [{"message": {"content": [{"text": ["x"]}, "y", {"text": "好"}]}}]}
    with HostileServer(always(answer_json(answer))) as server:
        assert ADAPTERS[1].call(ADAPTERS[1].build(server.url, 0)) == ["好"]


def test_retries_stay_within_their_budget_whatever_retry_after_says() -> None:
    waits: list[float] = []
    policy = RetryPolicy(max_retries=3, backoff_s=0.1, max_backoff_s=0.5)
    answer = answer_json({"error": "busy"}, 503, {"Retry-After": "1e9"})
    with HostileServer(always(answer)) as server:
        client = JsonHttpClient(server.url, api_key_env=KEY_ENV, timeout_s=1, retry=policy, sleep=waits.append)
        with pytest.raises(HttpError, match="after 4 attempt"):
            client.post_json("x", {})
    assert len(server.seen) == 4 and waits == [0.5, 0.5, 0.5]


@pytest.mark.parametrize("bad", [{"max_retries": 10**9}, {"max_retries": -1}, {"backoff_s": float("inf")}])
def test_an_unbounded_retry_policy_is_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(MugeEvalError):
        JsonHttpClient("http://127.0.0.1:9/v1", retry=RetryPolicy(**{"max_retries": 1, **bad}))


def test_a_base_url_with_credentials_is_refused_without_quoting_them() -> None:
    with pytest.raises(MugeEvalError) as info:
        JsonHttpClient(f"http://user:{KEY}@127.0.0.1:9/v1")
    assert KEY not in str(info.value)


def _all_text(*folders: Path) -> str:
    return "".join(p.read_text(errors="replace") for folder in folders for p in folder.rglob("*") if p.is_file())


def test_a_caption_run_against_an_echoing_server_prints_and_writes_no_key(tmp_path: Path) -> None:
    write_muge_split(tmp_path / "data", None, count=3)
    out, cache = tmp_path / "run", tmp_path / "cache"
    args = ["--quiet", "run", "--task", "muge-caption", "--data-dir", str(tmp_path / "data"),
            "--model", "openai-chat", "--output-dir", str(out), "--cache-dir", str(cache), "--log-samples"]  # fmt: skip
    with HostileServer(always(echo_headers(200, chat_answer))) as server:
        model_args = f"model=m,base_url={server.url},api_key_env={KEY_ENV},backoff_s=0"
        result = CliRunner().invoke(main, [*args, "--model-args", model_args], env={KEY_ENV: KEY})
    assert result.exit_code == 0, result.output
    assert server.seen and all(seen.headers["Authorization"] == f"Bearer {KEY}" for seen in server.seen)
    assert KEY not in result.output and KEY not in _all_text(out, cache)
    with HostileServer(always(echo_headers(401))) as server:
        model_args = f"model=m2,base_url={server.url},api_key_env={KEY_ENV},backoff_s=0"
        result = CliRunner().invoke(main, [*args, "--model-args", model_args], env={KEY_ENV: KEY})
    assert result.exit_code == 1 and "HTTP 401" in result.output and "Traceback" not in result.output
    assert KEY not in result.output and KEY not in _all_text(out, cache)


def test_a_t2i_run_redirected_elsewhere_fails_and_sends_nothing_there(tmp_path: Path) -> None:
    write_dataset(tmp_path / "data", 3)
    elsewhere = HostileServer(always(answer_json(images_answer(png_b64()))))
    with elsewhere, HostileServer(always(redirect(elsewhere.url + "/images/generations"))) as server:
        result = CliRunner().invoke(
            main,
            ["--quiet", "run", "--task", "muge-t2i", "--data-dir", str(tmp_path / "data"),
             "--model", "openai-images", "--model-args",
             f"model=m,base_url={server.url},api_key_env={KEY_ENV},backoff_s=0",
             "--output-dir", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache")],
            env={KEY_ENV: KEY, "MUGE_EVAL_INCEPTION_WEIGHTS": ""},
        )  # fmt: skip
    assert result.exit_code == 1 and "redirects are not followed" in result.output, result.output
    assert elsewhere.seen == [] and KEY not in result.output
    assert not (tmp_path / "run" / "results.json").exists()


def judge_answer(text: str) -> dict[str, Any]:
    """One answer both rubrics parse: a score, a winner, and ``text`` as the reason."""
    return chat_answer(json.dumps({"score": 7, "winner": "A", "reason": text}, ensure_ascii=False))


def test_judged_runs_and_an_arena_write_no_key_a_judge_echoed_with_escapes(tmp_path: Path) -> None:
    """The judge's reasons go to samples, the judgement caches, judgements.jsonl and the
    arena document: a key the judge hands back (even as \\u escapes) reaches none of them."""
    write_muge_split(tmp_path / "data", None, count=3)
    base = ["--quiet", "run", "--task", "muge-caption", "--data-dir", str(tmp_path / "data"),
            "--task-args", "caption_cache=off", "--cache-dir", str(tmp_path / "cache"), "--log-samples"]  # fmt: skip
    outputs = []
    with HostileServer(always(echo_key_escaped(200, judge_answer))) as server:
        judge = ["--llm-judge", "j", "--llm-judge-args", f"base_url={server.url},api_key_env={KEY_ENV},backoff_s=0"]
        models = {"colour": "caption_helpers:ColourCaptioner", "plain": "tests_support_adapter:CaptionOnly"}
        for name, model in models.items():
            result = CliRunner().invoke(main, [*base, "--model", model, "--model-name", name, *judge,
                                               "--output-dir", str(tmp_path / name)], env={KEY_ENV: KEY})  # fmt: skip
            assert result.exit_code == 0, result.output
            outputs.append(result.output)
        result = CliRunner().invoke(
            main,
            ["--quiet", "arena", str(tmp_path / "colour"), str(tmp_path / "plain"), "--task", "muge-caption",
             "--data-dir", str(tmp_path / "data"), "--llm-judge", "j", "--llm-judge-args",
             f"base_url={server.url},api_key_env={KEY_ENV},backoff_s=0", "--output-dir", str(tmp_path / "arena"),
             "--cache-dir", str(tmp_path / "cache"), "--resamples", "20"],
            env={KEY_ENV: KEY},
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert len(server.seen) == 3 + 3 + 2 * 3  # two judged runs, then both orders of the one pair per image
    written = _all_text(tmp_path / "colour", tmp_path / "plain", tmp_path / "arena", tmp_path / "cache")
    assert "your key is <redacted>" in written
    for text in (written, *outputs):
        assert KEY not in text and escaped(KEY) not in text


def test_an_embeddings_run_against_a_key_echoing_server_writes_no_key(tmp_path: Path) -> None:
    from released_sets import xtd10

    def answer(handler: Any, seen: Seen) -> None:
        payload = json.loads(seen.body)
        count = len(payload["input"]) if "input" in payload else 1
        rows = [{"index": n, "embedding": [1.0, float(n + len(seen.body) % 7)], "object": "@@"} for n in range(count)]
        echo_key_escaped(200, lambda text: {"data": [{**r, "object": text} for r in rows]})(handler, seen)

    data = xtd10(tmp_path / "xtd")
    with HostileServer(always(answer)) as server:
        result = CliRunner().invoke(
            main,
            ["--quiet", "run", "--task", "xtd10-zh-retrieval", "--data-dir", str(data), "--model", "openai-embeddings",
             "--model-args", f"model=m,base_url={server.url},api_key_env={KEY_ENV},backoff_s=0",
             "--output-dir", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"), "--num-workers", "0",
             "--log-samples"],
            env={KEY_ENV: KEY},
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert server.seen and all(s.headers["Authorization"] == f"Bearer {KEY}" for s in server.seen)
    written = _all_text(tmp_path / "run", tmp_path / "cache")
    assert KEY not in result.output + written and escaped(KEY) not in result.output + written


def test_an_embeddings_run_redirected_elsewhere_fails_and_sends_nothing_there(tmp_path: Path) -> None:
    from released_sets import xtd10

    data = xtd10(tmp_path / "xtd")
    elsewhere = HostileServer(always(answer_json(embeddings_answer())))
    with elsewhere, HostileServer(always(redirect(elsewhere.url + "/embeddings", 308))) as server:
        result = CliRunner().invoke(
            main,
            ["--quiet", "run", "--task", "xtd10-zh-retrieval", "--data-dir", str(data), "--model", "openai-embeddings",
             "--model-args", f"model=m,base_url={server.url},api_key_env={KEY_ENV},backoff_s=0",
             "--output-dir", str(tmp_path / "run"), "--cache-dir", str(tmp_path / "cache"), "--num-workers", "0"],
            env={KEY_ENV: KEY},
        )  # fmt: skip
    assert result.exit_code == 1 and "redirects are not followed" in result.output, result.output
    assert elsewhere.seen == [] and KEY not in result.output and "Traceback" not in result.output
    assert not (tmp_path / "run" / "results.json").exists()
