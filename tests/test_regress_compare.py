"""``muge-eval regress`` and ``run --expect``: pass, fail, and refusing to compare apples to pears."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from board_helpers import PERCENT, results_document, write_run
from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.errors import UsageError
from muge_eval.regress.compare import compare_results
from muge_eval.regress.tolerance import Tolerances, parse_tolerances

CAPTION_INFO = {
    "bleu4": {"higher_is_better": True, "unit": "score"},
    "cider_d": {"higher_is_better": True, "unit": "score"},
}
CAPTION_PROTOCOL = {"tokenizer": {"name": "char", "jieba": "0.42.1"}, "scorer": "pycocoevalcap"}


def caption(metrics: dict[str, float], **protocol: Any) -> dict[str, Any]:
    return results_document(
        "m",
        metrics,
        CAPTION_INFO,
        task="caption-sample",
        task_type="caption",
        main_metric="cider_d",
        protocol={**CAPTION_PROTOCOL, **protocol},
    )


def t2i(fid: float) -> dict[str, Any]:
    info = {"fid": {"higher_is_better": False, "unit": "score"}}
    return results_document("m", {"fid": fid}, info, task="t2i", task_type="t2i", main_metric="fid")


def regress(tmp_path: Path, expected: dict[str, Any], actual: dict[str, Any], *extra: str) -> tuple[int, str]:
    golden = write_run(tmp_path / "golden", expected)
    run = write_run(tmp_path / "actual", actual)
    result = CliRunner().invoke(main, ["regress", "--expected", str(golden), "--actual", str(run), *extra])
    return result.exit_code, result.output


def test_identical_results_pass(tmp_path: Path) -> None:
    document = caption({"bleu4": 27.3, "cider_d": 53.5})
    code, output = regress(tmp_path, document, document)
    assert code == 0, output
    assert "PASSED" in output
    assert "cider_d" in output and "+0.0000" in output


def test_a_drop_beyond_tolerance_fails_and_within_passes(tmp_path: Path) -> None:
    expected = caption({"bleu4": 27.3, "cider_d": 53.5})
    actual = caption({"bleu4": 27.29, "cider_d": 53.2})
    code, output = regress(tmp_path, expected, actual, "--tolerance", "0.01")
    assert code == 1
    assert "FAILED: 1 metric(s) regressed beyond tolerance: cider_d" in output
    line = next(line for line in output.splitlines() if line.startswith("cider_d"))
    assert line.split()[2:] == ["53.5000", "53.2000", "-0.3000", "0.0100", "REGRESSED"]
    code, output = regress(tmp_path, expected, actual, "--tolerance", "0.01,cider_d=0.5")
    assert code == 0, output


def test_lower_is_better_metrics_regress_upwards(tmp_path: Path) -> None:
    assert regress(tmp_path, t2i(20.0), t2i(19.0))[0] == 0
    code, output = regress(tmp_path, t2i(20.0), t2i(21.0), "--tolerance", "0.5")
    assert code == 1 and "REGRESSED" in output
    code, output = regress(tmp_path, t2i(20.0), t2i(19.0), "--fail-on-improvement")
    assert code == 1


def test_an_improvement_passes_and_is_reported(tmp_path: Path) -> None:
    code, output = regress(
        tmp_path, caption({"bleu4": 27.3, "cider_d": 53.5}), caption({"bleu4": 28.0, "cider_d": 53.5})
    )
    assert code == 0 and "improved" in output


def test_a_missing_metric_fails(tmp_path: Path) -> None:
    expected = caption({"bleu4": 27.3, "cider_d": 53.5})
    actual = results_document(
        "m",
        {"bleu4": 27.3},
        CAPTION_INFO,
        task="caption-sample",
        task_type="caption",
        main_metric="bleu4",
        protocol=CAPTION_PROTOCOL,
    )
    code, output = regress(tmp_path, expected, actual)
    assert code == 1 and "MISSING" in output


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["task"].update(name="other"), "task differs"),
        (lambda d: d["task"].update(version="2"), "task version differs"),
        (lambda d: d["dataset"].update(fingerprint="sha256:" + "11" * 32), "dataset fingerprint differs"),
        (lambda d: d["dataset"].update(split="test"), "split differs"),
        (lambda d: d["run_config"].update(limit=10), "--limit differs"),
        (lambda d: d["protocol"]["tokenizer"].update(name="jieba"), "protocol tokenizer.name differs"),
        (lambda d: d["metric_info"]["cider_d"].update(higher_is_better=False), "higher_is_better differs"),
    ],
)
def test_comparing_different_things_is_an_error(tmp_path: Path, change: Any, message: str) -> None:
    expected = caption({"bleu4": 27.3, "cider_d": 53.5})
    actual = json.loads(json.dumps(expected))
    change(actual)
    code, output = regress(tmp_path, expected, actual)
    assert code == 3, output
    assert "NOT COMPARABLE" in output and message in output


def test_other_protocol_differences_warn_but_do_not_fail(tmp_path: Path) -> None:
    expected = caption({"bleu4": 27.3, "cider_d": 53.5})
    code, output = regress(tmp_path, expected, caption({"bleu4": 27.3, "cider_d": 53.5}, scorer="other"))
    assert code == 0
    assert "warning: protocol scorer differs" in output


def test_tolerance_parsing() -> None:
    parsed = parse_tolerances(["0.01,cider_d=0.5", "bleu4=0"])
    assert parsed == Tolerances(0.01, {"cider_d": 0.5, "bleu4": 0.0})
    assert parsed.for_metric("rouge_l") == 0.01
    for bad in ("-1", "cider_d=abc", "=3", "nan", "r1=inf"):
        with pytest.raises(UsageError):
            parse_tolerances([bad])


def test_a_tolerance_for_an_unknown_metric_is_a_usage_error(tmp_path: Path) -> None:
    document = caption({"bleu4": 27.3, "cider_d": 53.5})
    with pytest.raises(UsageError, match="cidr_d"):
        compare_results(document, document, parse_tolerances(["cidr_d=1"]))
    code, output = regress(tmp_path, document, document, "--tolerance", "cidr_d=1")
    assert code == 2 and "not metrics of the golden file" in output


def test_summary_file_gets_a_markdown_table(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    document = caption({"bleu4": 27.3, "cider_d": 53.5})
    code, _ = regress(tmp_path, document, document, "--summary", str(summary))
    assert code == 0
    text = summary.read_text(encoding="utf-8")
    assert "| metric | expected | actual | delta | tolerance | verdict |" in text and "PASSED" in text


def test_invalid_golden_file_is_reported(tmp_path: Path) -> None:
    golden = tmp_path / "golden.json"
    golden.write_text("{}", encoding="utf-8")
    result = CliRunner().invoke(main, ["regress", "--expected", str(golden), "--actual", str(golden)])
    assert result.exit_code == 1 and "golden.json" in result.output and "Traceback" not in result.output


def _run(tmp_path: Path, *extra: str) -> Any:
    args = ["--quiet", "run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir"]
    return CliRunner().invoke(main, [*args, str(tmp_path / "out"), *extra])


def test_run_expect_passes_on_its_own_results_and_fails_on_a_better_golden(tmp_path: Path) -> None:
    first = _run(tmp_path)
    assert first.exit_code == 0, first.output
    golden = tmp_path / "golden.json"
    golden.write_bytes((tmp_path / "out" / "results.json").read_bytes())
    again = _run(tmp_path, "--expect", str(golden))
    assert again.exit_code == 0, again.output
    assert "PASSED" in again.output
    document = json.loads(golden.read_text(encoding="utf-8"))
    document["metrics"]["mean_recall"] += 1.0
    golden.write_text(json.dumps(document), encoding="utf-8")
    worse = _run(tmp_path, "--expect", str(golden), "--tolerance", "0.5")
    assert worse.exit_code == 1
    assert "REGRESSED" in worse.output and "mean_recall" in worse.output
    assert _run(tmp_path, "--expect", str(golden), "--tolerance", "mean_recall=1").exit_code == 0


def test_run_expect_checks_the_golden_file_before_running(tmp_path: Path) -> None:
    result = _run(tmp_path, "--expect", str(tmp_path / "absent.json"))
    assert result.exit_code == 1 and "results file not found" in result.output
    assert not (tmp_path / "out").exists()
    info = {k: dict(PERCENT) for k in ("r1",)}
    other = write_run(tmp_path / "g", results_document("m", {"r1": 1.0}, info, main_metric="r1"))
    result = _run(tmp_path, "--expect", str(other))
    assert result.exit_code == 3 and "dataset fingerprint differs" in result.output
