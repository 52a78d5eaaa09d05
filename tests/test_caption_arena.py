"""The caption arena end to end against a local judge server (429s, a timeout), its
ratings against a direct Bradley-Terry fit, the cache, and the document's schema."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from caption_helpers import fake_chat_server, field_after, prompt_text, write_muge_split
from click.testing import CliRunner
from PIL import Image

from muge_eval.arena import read_arena, write_arena
from muge_eval.caption.arena import ArenaEntry, PairJudgement, build_arena, parse_winner
from muge_eval.caption.chat_judge import ChatJudgeSettings
from muge_eval.cli.main import main
from muge_eval.errors import InputError
from muge_eval.metrics.pairwise import elo, fit_strengths

KEY = "sk-arena-never-written"
QUALITY = {"红色连衣裙": 3, "这是一张图片，图片里有一件很漂亮的红色连衣裙，适合各种场合穿着。": 2, "裙子": 1}


class FixedCaptioner:
    capabilities = frozenset({"caption"})
    text = ""

    def caption(self, images: list[Image.Image]) -> list[str]:
        return [self.text] * len(images)


class GoodCaptioner(FixedCaptioner):
    text = "红色连衣裙"


class ChattyCaptioner(FixedCaptioner):
    text = "这是一张图片，图片里有一件很漂亮的红色连衣裙，适合各种场合穿着。"


class PlainCaptioner(FixedCaptioner):
    text = "裙子"


def judge_reply(payload: dict[str, Any]) -> str:
    prompt = prompt_text(payload)
    a, b = QUALITY[field_after(prompt, "描述 A：")], QUALITY[field_after(prompt, "描述 B：")]
    winner = "A" if a > b else "B" if b > a else "tie"
    return json.dumps({"winner": winner, "reason": "更准确"}, ensure_ascii=False)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--quiet", *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    base = tmp_path_factory.mktemp("arena")
    data = base / "data"
    write_muge_split(data, None, count=6)
    folders = {}
    for name in ("GoodCaptioner", "ChattyCaptioner", "PlainCaptioner"):
        out = base / name
        code, output = cli("run", "--task", "muge-caption", "--data-dir", str(data), "--model",
                           f"test_caption_arena:{name}", "--model-name", name.removesuffix("Captioner").lower(),
                           "--task-args", "caption_cache=off", "--output-dir", str(out))  # fmt: skip
        assert code == 0, output
        folders[name] = out
    return {"base": base, "data": data, "folders": folders}


def arena(runs: dict[str, Any], url: str, out: Path, *extra: str) -> tuple[int, str]:
    return cli("arena", *(str(f) for f in runs["folders"].values()), "--task", "muge-caption", "--data-dir",
               str(runs["data"]), "--llm-judge", "qwen-judge", "--llm-judge-args",
               f"base_url={url},api_key_env=ARENA_TEST_KEY,timeout_s=1,backoff_s=0.01,concurrency=3",
               "--output-dir", str(out), "--cache-dir", str(runs["base"] / "cache"),
               "--resamples", "200", *extra)  # fmt: skip


def test_parse_winner() -> None:
    assert parse_winner('{"winner": "B", "reason": "好"}') == ("B", "好")
    assert parse_winner('{"winner": "平局"}') == ("tie", "")
    assert parse_winner("胜者：A") == ("A", "")
    assert parse_winner('{"winner": "C"}') is None and parse_winner("都不错") is None


def test_arena_end_to_end(runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_TEST_KEY", KEY)
    out = runs["base"] / "arena"

    def behaviour(n: int, payload: dict[str, Any]) -> Any:
        if n == 0:
            return 429
        if n == 1:
            return ("slow", 1.6, judge_reply(payload))
        return judge_reply(payload)

    with fake_chat_server(behaviour) as server:
        code, output = arena(runs, server["url"], out)
        assert code == 0, output
        # 3 pairs x 2 orders x 6 images, one 429 and one timeout retried
        assert server["requests"] == 36 + 2
        assert all(p["temperature"] == 0 for p in server["payloads"])
        code, output = arena(runs, server["url"], runs["base"] / "again")
        assert code == 0, output
        assert server["requests"] == 38  # all from the cache
    document = read_arena(out / "arena.json")
    assert [r.model for r in document.ranked()] == ["good", "chatty", "plain"]
    wins = np.array([[0.0, 12.0, 12.0], [0.0, 0.0, 12.0], [0.0, 0.0, 0.0]])
    expected = elo(fit_strengths(wins, 1.0))
    assert [r.rating for r in document.ratings] == pytest.approx(expected.tolist())
    for rating in document.ratings:
        assert rating.low <= rating.rating <= rating.high
        assert rating.comparisons == 24
    assert document.position_bias.first_wins == 18 and document.position_bias.second_wins == 18
    assert document.pairs[0].a == "good" and document.pairs[0].a_wins == 12 and document.pairs[0].a_score == 1.0
    assert document.judge["rubric"] == "pairwise_zh.txt" and len(document.judge["rubric_sha256"]) == 64
    judgements = [json.loads(line) for line in (out / "judgements.jsonl").read_text().splitlines()]
    assert len(judgements) == 36 and all(j["reason"] == "更准确" for j in judgements)
    again = read_arena(runs["base"] / "again" / "arena.json")
    assert [r.rating for r in again.ratings] == [r.rating for r in document.ratings]
    for path in runs["base"].rglob("*"):
        if path.is_file():
            assert KEY not in path.read_text(encoding="utf-8", errors="replace"), path


def test_identical_runs_tie_without_asking(runs: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ARENA_TEST_KEY", KEY)
    good = str(runs["folders"]["GoodCaptioner"])
    with fake_chat_server(lambda n, payload: judge_reply(payload)) as server:
        code, output = cli("arena", good, good, "--names", "one,two", "--task", "muge-caption", "--data-dir",
                           str(runs["data"]), "--llm-judge", "j", "--llm-judge-args", f"base_url={server['url']}",
                           "--output-dir", str(runs["base"] / "same"), "--resamples", "50")  # fmt: skip
        assert code == 0, output
        assert server["requests"] == 0
    document = read_arena(runs["base"] / "same" / "arena.json")
    assert [r.rating for r in document.ratings] == pytest.approx([1000.0, 1000.0])
    assert document.pairs[0].ties == 12


def test_arena_refuses_bad_input(runs: dict[str, Any], tmp_path: Path) -> None:
    good = str(runs["folders"]["GoodCaptioner"])
    code, output = cli("arena", good, good, "--task", "muge-caption", "--data-dir", str(runs["data"]),
                       "--llm-judge", "j", "--output-dir", str(tmp_path / "x"))  # fmt: skip
    assert code == 2 and "--names" in output
    other = tmp_path / "other"
    write_muge_split(other, None, count=7)
    code, output = cli("arena", good, str(runs["folders"]["PlainCaptioner"]), "--task", "muge-caption",
                       "--data-dir", str(other), "--llm-judge", "j", "--output-dir", str(tmp_path / "y"))  # fmt: skip
    assert code == 1
    assert not (tmp_path / "y" / "arena.json").exists()


def test_write_and_read_check_the_schema(tmp_path: Path) -> None:
    entries = [ArenaEntry(n, f"{n}/results.json", None, {"x": n}) for n in ("a", "b")]
    judgements = [PairJudgement("x", 0, 1, "A", "", True), PairJudgement("x", 1, 0, "B", "", True)]
    settings = ChatJudgeSettings("j")
    task = {"name": "t", "type": "caption", "card_sha256": ""}
    dataset = {"split": "valid", "fingerprint": "f", "num_items": 1, "limit": None}
    document = build_arena(["x"], entries, judgements, task, dataset, settings, 20, 1)
    write_arena(tmp_path / "arena.json", document)
    assert read_arena(tmp_path / "arena.json") == document
    raw = json.loads((tmp_path / "arena.json").read_text())
    raw["ratings"][0]["model"] = "someone else"
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(raw))
    with pytest.raises(InputError, match="ratings must name each run"):
        read_arena(broken)
    del raw["judge"]
    broken.write_text(json.dumps(raw))
    with pytest.raises(InputError, match="judge"):
        read_arena(broken)
    with pytest.raises(InputError, match="invalid arena"):
        write_arena(tmp_path / "bad.json", dataclasses.replace(document, runs=document.runs[:1]))
    assert not (tmp_path / "bad.json").exists()
