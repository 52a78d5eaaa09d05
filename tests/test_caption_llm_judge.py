"""llm_judge end to end against a local judge server: 429s, a timeout, an unparsable answer
repaired, bounded request loops, answers cached, reasons in the samples, no key on disk."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest
from caption_helpers import fake_chat_server, field_after, prompt_text, write_muge_split
from click.testing import CliRunner

from muge_eval.caption.chat_judge import ChatJudgeSettings, first_json_object, load_rubric
from muge_eval.caption.llm_judge import parse_score
from muge_eval.cli.main import main
from muge_eval.errors import UsageError

KEY = "sk-judge-never-written"
SCORES = {"红色连衣裙": 8, "简约裙子": 4}


def judge_reply(payload: dict[str, Any]) -> str:
    caption = field_after(prompt_text(payload), "候选描述：")
    return json.dumps({"score": SCORES[caption], "reason": f"看到了{caption}"}, ensure_ascii=False)


def run(data: Path, out: Path, cache: Path, url: str, *extra: str) -> tuple[int, str]:
    args = ["--quiet", "run", "--task", "muge-caption", "--data-dir", str(data), "--model",
            "caption_helpers:ColourCaptioner", "--task-args", "caption_cache=off", "--llm-judge", "qwen-judge",
            "--llm-judge-args", f"base_url={url},api_key_env=JUDGE_TEST_KEY,timeout_s=1,backoff_s=0.01,concurrency=2",
            "--output-dir", str(out), "--cache-dir", str(cache), "--log-samples", *extra]  # fmt: skip
    result = CliRunner().invoke(main, args)
    return result.exit_code, result.output


def test_parsing_answers() -> None:
    assert parse_score('{"score": 7, "reason": "准确"}') == (7.0, "准确")
    assert parse_score('好的。\n```json\n{"score": 9, "reason": "好"}\n```') == (9.0, "好")
    assert parse_score("评分：6") == (6.0, "")
    assert parse_score('{"score": 11}') is None and parse_score("no idea") is None
    assert parse_score('{"score": true}') is None
    assert first_json_object('x {"a": {"b": 1}} y') == {"a": {"b": 1}}


def test_settings_are_typed_and_checked() -> None:
    settings = ChatJudgeSettings.parse("m", {"concurrency": "3", "timeout_s": "2.5"}, "--llm-judge-args")
    assert settings.concurrency == 3 and settings.timeout_s == 2.5
    with pytest.raises(UsageError, match="unknown setting"):
        ChatJudgeSettings.parse("m", {"api_key": "sk-x"}, "--llm-judge-args")
    with pytest.raises(UsageError, match="not a valid int"):
        ChatJudgeSettings.parse("m", {"concurrency": "many"}, "--llm-judge-args")
    assert "sk" not in json.dumps(settings.recorded())


def test_judge_end_to_end_with_429_timeout_and_repair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", KEY)
    data = tmp_path / "data"
    ids = write_muge_split(data, None, count=6)
    lock = threading.Lock()
    seen: list[str] = []

    def behaviour(n: int, payload: dict[str, Any]) -> Any:
        with lock:
            seen.append(prompt_text(payload)[:10])
        if n == 0:
            return 429
        if n == 1:
            return ("slow", 1.6, judge_reply(payload))  # past the 1 s timeout: retried
        if len(payload["messages"]) == 1 and n == 2:
            return "我觉得还不错"  # no score: asked again with the format reminder
        return judge_reply(payload)

    with fake_chat_server(behaviour) as server:
        code, output = run(data, tmp_path / "a", tmp_path / "cache", server["url"])
        assert code == 0, output
        first = server["requests"]
        # 6 judgements + one 429 + one timeout + one repair
        assert first == 9
        assert server["headers"][-1]["Authorization"] == f"Bearer {KEY}"
        assert all(p["temperature"] == 0 for p in server["payloads"])
        code, output = run(data, tmp_path / "b", tmp_path / "cache", server["url"])
        assert code == 0, output
        assert server["requests"] == first  # every judgement from the cache
    document = json.loads((tmp_path / "a" / "results.json").read_text())
    samples = [json.loads(line) for line in (tmp_path / "a" / "samples.jsonl").read_text().splitlines()]
    captions = {s["image_id"]: s["caption"] for s in samples}
    expected = sum(SCORES[captions[i]] for i in ids) / len(ids)
    assert document["metrics"]["llm_judge"] == pytest.approx(expected)
    assert all(s["llm_judge_reason"] == f"看到了{s['caption']}" for s in samples)
    protocol = document["protocol"]["llm_judge"]
    assert protocol["rubric_sha256"] == load_rubric("pointwise_zh.txt").sha256
    assert protocol["temperature"] == 0.0 and protocol["api_key"] == "read from $JUDGE_TEST_KEY"
    assert any("depends on the judge" in note for note in document["notes"])
    again = json.loads((tmp_path / "b" / "results.json").read_text())
    assert again["metrics"]["llm_judge"] == document["metrics"]["llm_judge"]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path


def test_an_answer_that_never_parses_stops_with_a_bounded_number_of_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", KEY)
    data = tmp_path / "data"
    write_muge_split(data, None, count=2)
    with fake_chat_server(lambda n, payload: "不知道") as server:
        code, output = run(data, tmp_path / "a", tmp_path / "cache", server["url"])
        assert code == 1
        assert "could not be parsed after 3 attempt(s)" in output
        assert server["requests"] == 2 * 3  # each item: the question and two reminders
    assert not (tmp_path / "a" / "results.json").exists()


def test_a_server_that_keeps_failing_gives_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", KEY)
    data = tmp_path / "data"
    write_muge_split(data, None, count=1)
    with fake_chat_server(lambda n, payload: 503) as server:
        code, output = run(data, tmp_path / "a", tmp_path / "cache", server["url"])
        assert code == 1
        assert "failed after 5 attempt(s)" in output
        assert server["requests"] == 5
    assert KEY not in output


def test_score_with_a_judge_and_the_human_baseline_with_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JUDGE_TEST_KEY", KEY)
    data = tmp_path / "data"
    ids = write_muge_split(data, None, count=3)
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(
        "".join(json.dumps({"image_id": i, "text": "简约裙子"}, ensure_ascii=False) + "\n" for i in ids),
        encoding="utf-8",
    )
    judge_args = "base_url={},api_key_env=JUDGE_TEST_KEY"
    with fake_chat_server(lambda n, payload: '{"score": 5, "reason": "一般"}') as server:
        out = tmp_path / "scored.json"
        result = CliRunner().invoke(
            main,
            ["score", "--task", "muge-caption", "--gold", str(data / "IC_valid.jsonl"), "--predictions",
             str(predictions), "--llm-judge", "j", "--llm-judge-args", judge_args.format(server["url"]),
             "--output", str(out)],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert json.loads(out.read_text())["metrics"]["llm_judge"] == 5.0
        result = CliRunner().invoke(
            main,
            ["--quiet", "run", "--task", "muge-caption", "--data-dir", str(data), "--model", "human", "--llm-judge",
             "j", "--llm-judge-args", judge_args.format(server["url"]), "--output-dir", str(tmp_path / "human"),
             "--cache-dir", str(tmp_path / "cache")],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        assert server["requests"] == 6
