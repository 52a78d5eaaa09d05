"""Caption submissions through `validate` and `score`: every problem with its line and
field, empty captions counted, results files, the Tianchi-style output, AI Challenger."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.results import read_results

GOLD = [
    {"image_id": "a" * 32, "text": ["红色连衣裙", "简约红色裙子", "红色的连衣裙很好看"]},
    {"image_id": "b" * 32, "text": ["蓝色帽子", "时尚蓝色帽子"]},
    {"image_id": "c" * 32, "text": ["黑色手提包", "黑色包包", "简约黑色手提包"]},
]


def write_jsonl(path: Path, rows: list[object]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in rows))
    return path


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "IC_valid.jsonl", GOLD)


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_score_writes_results_with_tokenizer_and_versions(tmp_path: Path, gold: Path) -> None:
    pred = write_jsonl(
        tmp_path / "pred.jsonl",
        [{"image_id": "a" * 32, "text": "红色连衣裙"}, {"image_id": "b" * 32, "text": "蓝色帽子"},
         {"image_id": "c" * 32, "text": ""}],
    )  # fmt: skip
    out = tmp_path / "results.json"
    code, output = cli("score", "--task", "muge-caption", "--gold", str(gold), "--predictions", str(pred),
                       "--output", str(out))  # fmt: skip
    assert code == 0, output
    document = read_results(out)
    assert document["main_metric"] == "cider_d"
    assert set(document["metrics"]) == {"bleu1", "bleu2", "bleu3", "bleu4", "rouge_l", "cider_d"}
    protocol = document["protocol"]
    assert protocol["tokenizer"]["name"] == "char"
    assert protocol["versions"] == {"pycocoevalcap": "1.2", "jieba": "0.42.1"}
    assert protocol["empty_captions"] == 1
    assert any("1 of 3 captions are empty" in n for n in document["notes"])


def test_score_with_jieba_and_metric_choice(tmp_path: Path, gold: Path) -> None:
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"image_id": g["image_id"], "text": g["text"][0]} for g in GOLD])
    out = tmp_path / "r.json"
    code, output = cli("score", "--task", "muge-caption", "--gold", str(gold), "--predictions", str(pred),
                       "--tokenizer", "jieba", "--metrics", "bleu4,rouge_l", "--output", str(out))  # fmt: skip
    assert code == 0, output
    document = read_results(out)
    assert list(document["metrics"]) == ["bleu4", "rouge_l"]
    assert document["main_metric"] == "bleu4"
    assert document["protocol"]["tokenizer"]["settings"]["hmm"] is True


def test_validate_reports_every_problem_with_lines(tmp_path: Path, gold: Path) -> None:
    pred = write_jsonl(
        tmp_path / "pred.jsonl",
        [
            {"image_id": "a" * 32, "text": "红色连衣裙"},
            "{not json",
            {"image_id": "a" * 32, "text": "again"},
            {"image_id": "d" * 32, "text": "unknown"},
            {"image_id": "b" * 32, "text": ["a list"]},
            {"image_id": 7, "text": "x"},
            {"image_id": "e" * 32},
        ],
    )
    code, output = cli("validate", "--task", "muge-caption", "--gold", str(gold), str(pred))
    assert code == 1
    assert "Traceback" not in output
    assert f"{pred}:2: not valid JSON" in output
    assert f"{pred}:3: image_id: image {'a' * 32} also on line 1" in output
    assert f"{pred}:4: image_id: image {'d' * 32} is not in the gold file" in output
    assert f"{pred}:5: text: must be a string, got list" in output
    assert f"{pred}:6: image_id: must be a non-empty string, got 7" in output
    assert f"{pred}:7: text: missing" in output
    assert f"{pred}:7: text: missing" in output and f"image {'e' * 32} is not in the gold file" in output
    assert f"1 gold images have no caption: {'c' * 32}" in output


def test_validate_accepts_a_good_file_with_bom(tmp_path: Path, gold: Path) -> None:
    pred = tmp_path / "pred.jsonl"
    rows = [json.dumps({"image_id": g["image_id"], "text": "好"}, ensure_ascii=False) for g in GOLD]
    pred.write_text("\ufeff" + "\n".join(rows) + "\n", encoding="utf-8")
    code, output = cli("validate", "--task", "muge-caption", "--gold", str(gold), str(pred))
    assert code == 0, output


def test_bad_gold_and_unknown_tokenizer(tmp_path: Path) -> None:
    gold = write_jsonl(tmp_path / "g.jsonl", [{"image_id": "a", "text": []}, {"image_id": "b", "text": ["x", 3]}])
    pred = write_jsonl(tmp_path / "p.jsonl", [{"image_id": "a", "text": "x"}])
    code, output = cli("score", "--task", "muge-caption", "--gold", str(gold), "--predictions", str(pred))
    assert code == 1
    assert f"{gold}:1: text: must be a non-empty list" in output
    assert f"{gold}:2: text: reference 2 is 3, not a string" in output
    good = write_jsonl(tmp_path / "g2.jsonl", GOLD)
    code, output = cli("score", "--task", "muge-caption", "--gold", str(good), "--predictions", str(pred),
                       "--tokenizer", "chars")  # fmt: skip
    assert code == 2
    assert "did you mean 'char'" in output


def test_test_split_gold_without_references_cannot_be_scored(tmp_path: Path) -> None:
    gold = write_jsonl(tmp_path / "IC_test.jsonl", [{"image_id": "a" * 32}])
    pred = write_jsonl(tmp_path / "p.jsonl", [{"image_id": "a" * 32, "text": "x"}])
    code, output = cli("score", "--task", "muge-caption", "--gold", str(gold), "--predictions", str(pred))
    assert code == 1
    assert "no reference captions" in output


def test_tianchi_format_for_captions(tmp_path: Path, gold: Path) -> None:
    pred = write_jsonl(tmp_path / "pred.jsonl", [{"image_id": g["image_id"], "text": g["text"][1]} for g in GOLD])
    out = tmp_path / "score.json"
    code, output = cli("score", "--task", "muge-caption", "--gold", str(gold), "--predictions", str(pred),
                       "--format", "tianchi", "--output", str(out))  # fmt: skip
    assert code == 0, output
    document = json.loads(out.read_text())
    assert document["success"] is True
    assert document["score"] == document["scoreJson"]["cider_d"] == document["scoreJson"]["score"]


def test_retrieval_tianchi_output_is_unchanged(tmp_path: Path) -> None:
    gold = write_jsonl(tmp_path / "q.jsonl", [{"query_id": 1, "query_text": "x", "item_ids": [5]}])
    pred = write_jsonl(tmp_path / "p.jsonl", [{"query_id": 1, "item_ids": [5, 1, 2, 3, 4, 6, 7, 8, 9, 10]}])
    out = tmp_path / "s.json"
    code, output = cli("score", "--task", "muge-retrieval", "--gold", str(gold), "--predictions", str(pred),
                       "--format", "tianchi", "--output", str(out))  # fmt: skip
    assert code == 0, output
    expected = {
        "success": True,
        "score": 100.0,
        "scoreJson": {"score": 100.0, "mean_recall": 100.0, "r1": 100.0, "r5": 100.0, "r10": 100.0},
    }
    assert out.read_text(encoding="utf-8") == json.dumps(expected, ensure_ascii=False, indent=2) + "\n"


def test_aic_layout_score_and_validate(tmp_path: Path) -> None:
    annotations = [
        {
            "url": "http://x/1.jpg",
            "image_id": "1a.jpg",
            "caption": ["一个穿着红色衣服的女人在街上走", "街上有一个女人"],
        },
        {"url": "http://x/2.jpg", "image_id": "2b.jpg", "caption": ["两个男人在球场上打篮球", "球场上有人打球"]},
    ]
    gold = tmp_path / "caption_validation_annotations_20170910.json"
    gold.write_text(json.dumps(annotations, ensure_ascii=False), encoding="utf-8")
    pred = tmp_path / "pred.json"
    pred.write_text(json.dumps([{"image_id": "1a", "caption": "一个女人在街上走"},
                                {"image_id": "2b.jpg", "caption": "男人打篮球"}], ensure_ascii=False))  # fmt: skip
    out = tmp_path / "r.json"
    code, output = cli("score", "--task", "aic-icc-caption", "--gold", str(gold), "--predictions", str(pred),
                       "--output", str(out))  # fmt: skip
    assert code == 0, output
    assert read_results(out)["protocol"]["tokenizer"]["name"] == "jieba"
    pred.write_text(json.dumps([{"image_id": "1a", "caption": 5}, {"image_id": "zz", "caption": "x"}]))
    code, output = cli("validate", "--task", "aic-icc-caption", "--gold", str(gold), str(pred))
    assert code == 1
    assert "[0].caption: must be a string, got int" in output
    assert "[1].image_id: image zz is not in the gold file" in output
    assert "1 gold images have no caption: 2b" in output
