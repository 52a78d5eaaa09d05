"""The shared HTTP client and the openai-chat adapter against a local server: retries on
429 and 500, timeouts on slow answers, dropped connections, bounded concurrency, and an
API key that is sent but never written anywhere."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from caption_helpers import fake_chat_server
from PIL import Image

from muge_eval.caption.adapters.openai_chat import OpenAIChatCaptioner
from muge_eval.models.http_client import HttpError, JsonHttpClient, RetryPolicy

FAST = RetryPolicy(max_retries=3, backoff_s=0.01, max_backoff_s=0.05)


def red(size: int = 24) -> Image.Image:
    return Image.new("RGB", (size, size), (200, 20, 20))


def test_retries_429_and_500_then_succeeds() -> None:
    answers: list[Any] = [429, 500, "红色连衣裙"]
    with fake_chat_server(lambda n, payload: answers[n]) as server:
        client = JsonHttpClient(server["url"], retry=FAST, timeout_s=5)
        answer = client.post_json("chat/completions", {"x": 1})
    assert answer["choices"][0]["message"]["content"] == "红色连衣裙"
    assert server["requests"] == 3


def test_gives_up_after_max_retries_with_a_clear_error() -> None:
    with fake_chat_server(lambda n, payload: 503) as server:
        client = JsonHttpClient(server["url"], retry=FAST, timeout_s=5)
        with pytest.raises(HttpError, match=r"failed after 4 attempt\(s\): HTTP 503") as info:
            client.post_json("chat/completions", {})
    assert info.value.status == 503
    assert server["requests"] == 4


def test_client_errors_are_not_retried() -> None:
    with fake_chat_server(lambda n, payload: 400) as server:
        client = JsonHttpClient(server["url"], retry=FAST, timeout_s=5)
        with pytest.raises(HttpError, match="HTTP 400"):
            client.post_json("chat/completions", {})
    assert server["requests"] == 1


def test_slow_answer_times_out_and_is_retried() -> None:
    with fake_chat_server(lambda n, payload: ("slow", 1.5 if n == 0 else 0.0, "ok")) as server:
        client = JsonHttpClient(server["url"], retry=FAST, timeout_s=0.5)
        started = time.perf_counter()
        answer = client.post_json("chat/completions", {})
        assert time.perf_counter() - started < 1.4
    assert answer["choices"][0]["message"]["content"] == "ok"


def test_dropped_connection_is_retried() -> None:
    with fake_chat_server(lambda n, payload: "drop" if n < 2 else "好") as server:
        client = JsonHttpClient(server["url"], retry=FAST, timeout_s=5)
        assert client.post_json("chat/completions", {})["choices"][0]["message"]["content"] == "好"
    assert server["requests"] == 3


def test_concurrency_is_bounded_and_order_kept() -> None:
    active = {"now": 0, "max": 0}
    lock = threading.Lock()

    def behaviour(n: int, payload: dict[str, Any]) -> Any:
        with lock:
            active["now"] += 1
            active["max"] = max(active["max"], active["now"])
        time.sleep(0.05)
        with lock:
            active["now"] -= 1
        return f"caption {payload['i']}"

    with fake_chat_server(behaviour) as server:
        client = JsonHttpClient(server["url"], retry=FAST, timeout_s=5, concurrency=3)
        answers = client.map_post_json("chat/completions", [{"i": i} for i in range(12)])
    assert [a["choices"][0]["message"]["content"] for a in answers] == [f"caption {i}" for i in range(12)]
    assert 1 < active["max"] <= 3


def test_openai_chat_adapter_sends_image_prompt_and_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_TEST_KEY", "sk-secret-123")

    with fake_chat_server(lambda n, payload: [429, " 红色连衣裙 "][min(n, 1)]) as server:
        adapter = OpenAIChatCaptioner(
            "qwen-vl", base_url=server["url"], api_key_env="MY_TEST_KEY", backoff_s=0.01, concurrency=2
        )
        assert adapter.caption([red()]) == ["红色连衣裙"]
    payload = server["payloads"][-1]
    assert payload["model"] == "qwen-vl"
    content = payload["messages"][-1]["content"]
    assert content[0]["image_url"]["url"].startswith("data:image/jpeg;base64,")
    assert content[1]["text"] == adapter.prompt
    assert server["headers"][-1]["Authorization"] == "Bearer sk-secret-123"
    recorded = repr(adapter.protocol()) + repr(adapter.generation_settings()) + repr(adapter.cache_identity())
    assert "sk-secret-123" not in recorded
    assert "sk-secret-123" not in repr(vars(adapter.client))


def test_no_key_sends_no_authorization(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("UNSET_KEY_FOR_TEST", raising=False)
    with fake_chat_server(lambda n, payload: "x") as server:
        OpenAIChatCaptioner("m", base_url=server["url"], api_key_env="UNSET_KEY_FOR_TEST").caption([red()])
    assert "Authorization" not in server["headers"][0]


def test_bad_answer_shape_is_an_error() -> None:
    from muge_eval.caption.adapters.openai_chat import message_text

    with pytest.raises(HttpError, match=r"choices\[0\]"):
        message_text({"error": "x"}, "http://h/v1/chat/completions")
    assert message_text({"choices": [{"message": {"content": [{"type": "text", "text": "好 "}]}}]}, "u") == "好"
