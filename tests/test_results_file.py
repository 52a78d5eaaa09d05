"""The results JSON: schema on write and read, redaction, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from muge_eval.cli.main import main
from muge_eval.errors import InputError
from muge_eval.io.atomic import atomic_open
from muge_eval.models.args import parse_key_values, redact
from muge_eval.results import load_schema, read_results, write_results


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> dict:  # type: ignore[type-arg]
    out = tmp_path_factory.mktemp("run")
    result = CliRunner().invoke(
        main, ["-q", "run", "--task", "muge-retrieval-sample", "--model", "random", "--output-dir", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    return read_results(out / "results.json")


def test_document_says_what_is_needed_to_reproduce(document: dict) -> None:  # type: ignore[type-arg]
    assert document["schema_version"] == "1.0"
    assert document["toolkit"]["name"] == "muge-eval"
    assert len(document["task"]["card_sha256"]) == 64
    assert document["dataset"]["fingerprint"].startswith("sha256:")
    assert document["run_config"] == {"split": "valid", "batch_size": 64, "seed": 1234, "limit": None}
    assert "numpy" in document["environment"]["packages"]
    assert document["metric_info"]["mean_recall"]["higher_is_better"] is True
    assert document["protocol"]["tie_rule"].startswith("score descending")
    assert set(document["timings"]) >= {"load_s", "encode_texts_s", "encode_images_s", "total_s"}


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda d: d.pop("metrics"), "metrics"),
        (lambda d: d["metrics"].update(r1="high"), "metrics/r1"),
        (lambda d: d["task"].update(type=""), "task/type"),
        (lambda d: d.update(extra=1), "extra"),
    ],
)
def test_schema_violations_are_refused_on_write(document: dict, tmp_path: Path, mutate, field: str) -> None:  # type: ignore[no-untyped-def,type-arg]
    broken = json.loads(json.dumps(document))
    mutate(broken)
    with pytest.raises(InputError) as info:
        write_results(tmp_path / "r.json", broken)
    assert not (tmp_path / "r.json").exists()
    assert field.split("/")[0] in info.value.format()


def test_a_task_type_that_is_not_registered_is_refused_on_read(document: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    from muge_eval.plugins import task_type_registry

    video = json.loads(json.dumps(document))
    video["task"]["type"] = "video"
    (tmp_path / "video.json").write_text(json.dumps(video))
    read_results(tmp_path / "video.json")  # the schema alone allows any type name
    with pytest.raises(InputError, match="unknown task type 'video'") as info:
        read_results(tmp_path / "video.json", task_type_registry().names())
    assert "task/type" in info.value.format()


def test_non_finite_metrics_are_refused_on_read(document: dict, tmp_path: Path) -> None:  # type: ignore[type-arg]
    text = json.dumps(document).replace('"r1": ' + json.dumps(document["metrics"]["r1"]), '"r1": NaN')
    (tmp_path / "nan.json").write_text(text)
    with pytest.raises(InputError, match="NaN"):
        read_results(tmp_path / "nan.json")


def test_schema_file_is_shipped_and_valid() -> None:
    import jsonschema

    jsonschema.Draft202012Validator.check_schema(load_schema())


def test_atomic_write_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("partial")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_redaction_and_key_value_parsing() -> None:
    args = parse_key_values("api_key=abc,model_path=/x,HF_TOKEN=t,url=http://h:1/v1?a=b")
    assert args["url"] == "http://h:1/v1?a=b"
    assert redact(args) == {
        "api_key": "<redacted>",
        "model_path": "/x",
        "HF_TOKEN": "<redacted>",
        "url": "http://h:1/v1?a=b",
    }
