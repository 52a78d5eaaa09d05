"""Seeded fuzzing of the CLI, in process: ``validate``, ``score``, ``submit``, ``regress``,
``leaderboard build`` and card loading on every task type of ``fuzz_targets.TARGETS``.

Each case replaces one file (a submission, a gold file, a results file, a card) with a
hostile or damaged version and checks what a user sees: exit 1 or 2 (0 only where the
change is harmless), never a traceback, a ``file:line: field:`` message where one line is
at fault, and an answer within ``CASE_SECONDS``. The classes found by hand are all here:
deep nesting, integers past 4,300 digits, repeated keys, 30,000-id lines, second BOMs,
alias bombs, deep flows, decompression bombs, PNGs with no or corrupt pixel data, empty
and damaged files, hostile options and file-system oddities.
"""

from __future__ import annotations

import json
import os
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fuzz_runner import cache_registries, invoke, problems_of, report
from fuzz_targets import (
    TARGETS,
    Case,
    FuzzTarget,
    byte_damage,
    card_cases,
    image_cases,
    json_line_cases,
    results_cases,
    retrieval_long_line_cases,
    text_line_cases,
    tsv_line_cases,
)

pytestmark = pytest.mark.fuzz

SEED = 20240516
DAMAGE_PER_FILE = 120
BY_TYPE = pytest.mark.parametrize("target", TARGETS, ids=[t.type for t in TARGETS])
TASKS_DIR = Path(__file__).resolve().parents[1] / "tasks"


@pytest.fixture(autouse=True)
def quick_registries(monkeypatch: pytest.MonkeyPatch) -> None:
    cache_registries(monkeypatch)


def submission_cases(target: FuzzTarget, gold: Path, submission: Path, rng: random.Random) -> Iterator[Case]:
    valid = submission.read_bytes()
    if target.lines_are_json:
        yield from json_line_cases("submission", valid, target.submission_fields, rng)
    else:
        yield from tsv_line_cases("submission", valid, rng)
        yield from image_cases(valid, 16, rng)
    if target.type == "retrieval":
        yield from retrieval_long_line_cases(valid)
    yield from byte_damage("submission", valid, rng, DAMAGE_PER_FILE)


def gold_cases(target: FuzzTarget, gold: Path, rng: random.Random) -> Iterator[Case]:
    valid = target.damaged_gold(gold).read_bytes()
    if target.gold_format == "json":
        for case in json_line_cases("gold", valid, target.gold_fields, rng):
            lenient = case.field in target.lenient_gold_fields or case.name.startswith("duplicated line")
            yield case if not lenient else Case(case.name, "gold", case.data, must_fail=False)
    elif target.gold_format == "text":
        yield from text_line_cases("gold", valid, rng)
    else:
        yield from tsv_line_cases("gold", valid, rng)
    yield from byte_damage("gold", valid, rng, DAMAGE_PER_FILE)


def check_submission_commands(target: FuzzTarget, case: Case, gold: Path, submission: Path, out: Path) -> list[str]:
    """``validate`` and ``score`` agree and both answer well."""
    common = ["--task", target.card, *target.gold_args(gold), *target.extra_args, *case.extra_args]
    file = submission if case.role == "submission" else target.damaged_gold(gold)
    validated = invoke("validate", str(submission), *common)
    found = problems_of(case, validated, file)
    scored = invoke("score", "--predictions", str(submission), "--output", str(out), *common, *target.score_args)
    found += problems_of(case, scored, file)
    if validated.code != 0 and scored.code == 0:
        found.append(f"{case.name}: validate refused what score accepted")
    if scored.code != 0 and out.exists():
        found.append(f"{case.name}: a failed score left {out.name}")
    if case.role == "gold" and case.must_fail and f"{submission}:" in validated.output:
        found.append(f"{case.name}: a fault of the gold file blamed on the submission\n{validated.output[-300:]}")
    out.unlink(missing_ok=True)
    return found


@BY_TYPE
def test_submissions(target: FuzzTarget, tmp_path: Path) -> None:
    gold, submission = target.write_files(tmp_path / "files")
    valid = submission.read_bytes()
    validated = invoke("validate", str(submission), "--task", target.card, *target.gold_args(gold), *target.extra_args)
    assert validated.code == 0, validated.output
    found: list[str] = []
    cases = list(submission_cases(target, gold, submission, random.Random(SEED)))
    for case in cases:
        submission.write_bytes(case.data)
        found += check_submission_commands(target, case, gold, submission, tmp_path / "results.json")
    submission.write_bytes(valid)
    report(found, len(cases))


@BY_TYPE
def test_gold_files(target: FuzzTarget, tmp_path: Path) -> None:
    gold, submission = target.write_files(tmp_path / "files")
    found: list[str] = []
    cases = list(gold_cases(target, gold, random.Random(SEED + 1)))
    for case in cases:
        target.damaged_gold(gold).write_bytes(case.data)
        found += check_submission_commands(target, case, gold, submission, tmp_path / "results.json")
    report(found, len(cases))


def good_results(target: FuzzTarget, directory: Path) -> Path:
    """A results file scored from a valid submission (t2i: judged by the random baseline)."""
    gold, submission = target.write_files(directory)
    out = directory / "results.json"
    judge = ("--judge", "random") if target.type == "t2i" else ()
    outcome = invoke("score", "--task", target.card, *target.gold_args(gold), "--predictions", str(submission),
                     "--output", str(out), *target.extra_args, *judge)  # fmt: skip
    assert outcome.code == 0, outcome.output
    return out


def write_board(directory: Path, results: dict[str, Any]) -> Path:
    metric = results["main_metric"] or next(iter(results["metrics"]))
    board = {
        "title": "fuzz",
        "tasks": [{"name": results["task"]["name"], "split": results["dataset"]["split"], "main_metric": metric,
                   "fingerprints": [results["dataset"]["fingerprint"]]}],
        "bootstrap": {"resamples": 100, "seed": 1},
    }  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "board.yaml").write_text(json.dumps(board), encoding="utf-8")
    return directory


@BY_TYPE
def test_results_files(target: FuzzTarget, tmp_path: Path) -> None:
    """``regress`` both ways, ``submit`` and ``leaderboard build`` with a hostile results file."""
    good = good_results(target, tmp_path / "good")
    board = write_board(tmp_path / "board", json.loads(good.read_text(encoding="utf-8")))
    hostile = tmp_path / "hostile.json"
    found: list[str] = []
    cases = list(results_cases(good.read_bytes(), random.Random(SEED + 2), DAMAGE_PER_FILE // 2))
    for case in cases:
        hostile.write_bytes(case.data)
        found += problems_of(case, invoke("regress", "--expected", str(good), "--actual", str(hostile)), hostile,
                             (0, 1, 2, 3))  # fmt: skip
        found += problems_of(case, invoke("regress", "--expected", str(hostile), "--actual", str(good)), hostile,
                             (0, 1, 2, 3))  # fmt: skip
        submitted = invoke("submit", str(hostile), "--board", str(board))
        found += problems_of(case, submitted, hostile)
        for stored in (board / "results").glob("*.json"):
            stored.unlink()
        (board / "results").mkdir(exist_ok=True)
        (board / "results" / "hostile.json").write_bytes(case.data)
        built = invoke("leaderboard", "build", str(board), "--out", str(tmp_path / "site"))
        found += problems_of(case, built, hostile)
        if case.must_fail and "hostile.json" not in built.output:
            found.append(f"{case.name}: leaderboard build did not name the bad file\n{built.output[-300:]}")
        (board / "results" / "hostile.json").unlink()
    report(found, len(cases))


@BY_TYPE
def test_cards(target: FuzzTarget, tmp_path: Path) -> None:
    """A hostile card in --tasks-dir, listed by ``tasks`` and used by ``validate``."""
    gold, submission = target.write_files(tmp_path / "files")
    valid = (
        (TASKS_DIR / f"{target.card}.yaml")
        .read_text(encoding="utf-8")
        .replace(f"name: {target.card}\n", f"name: fuzz-{target.type}\n")
    )
    assert f"name: fuzz-{target.type}" in valid
    found: list[str] = []
    cases = list(card_cases(valid, random.Random(SEED + 3), DAMAGE_PER_FILE // 2))
    for number, case in enumerate(cases):
        cards = tmp_path / f"cards{number}"
        cards.mkdir()
        card = cards / "card.yaml"
        card.write_bytes(case.data)
        found += problems_of(case, invoke("tasks", "--tasks-dir", str(cards)), card)
        used = invoke("validate", str(submission), "--task", str(card), *target.gold_args(gold), *target.extra_args)
        found += problems_of(case, used, card)
        # without --gold the card's data location is used, however odd
        found += problems_of(Case(case.name, "card", b"", must_fail=False), invoke(
            "validate", str(submission), "--task", str(card), *target.extra_args), card)  # fmt: skip
        if case.must_fail and used.code != 0 and str(card) not in used.output:
            found.append(f"{case.name}: the message does not name the card\n{used.output[-300:]}")
    report(found, len(cases))


HOSTILE_OPTIONS = (
    "tokenizer=os:system", "tokenizer=builtins:eval", "tokenizer=subprocess:Popen", "tokenizer=nope",
    "image_size=-5", "image_size=0x0", "image_size=99999999999999999999x1", "image_size=" + "9" * 5000,
    "metrics=bleu9", "metrics=", "backend=faiss", "backend=nope", "judge=os:system", "unknown=1",
    "=", ",,,", "a", "a=1,a=2", "tokenizer=" + "x" * 10000, "caption_cache=/dev/null/x",
)  # fmt: skip


@BY_TYPE
def test_options(target: FuzzTarget, tmp_path: Path) -> None:
    gold, submission = target.write_files(tmp_path / "files")
    found: list[str] = []
    for option in HOSTILE_OPTIONS:
        case = Case(f"--task-args {option[:40]}", "options", b"", must_fail=option.startswith("tokenizer=os"))
        for command in ("validate", "score"):
            files = [str(submission)] if command == "validate" else ["--predictions", str(submission)]
            outcome = invoke(command, *files, "--task", target.card, *target.gold_args(gold), *target.extra_args,
                             "--task-args", option)  # fmt: skip
            found += problems_of(case, outcome, submission)
    report(found, len(HOSTILE_OPTIONS))


def odd_paths(directory: Path) -> dict[str, Path]:
    directory.mkdir()
    (directory / "loop").symlink_to(directory / "loop")
    (directory / "dangling").symlink_to(directory / "nowhere")
    (directory / "folder").mkdir()
    (directory / "empty").write_bytes(b"")
    os.mkfifo(directory / "fifo")  # nothing writes to it: a read would block for ever
    return {
        "missing": directory / "missing",
        "directory": directory / "folder",
        "symlink loop": directory / "loop",
        "dangling symlink": directory / "dangling",
        "name too long": directory / ("n" * 300),
        "path too long": directory.joinpath(*["d" * 200] * 30),
        "empty": directory / "empty",
        "inside a file": directory / "empty" / "x",
        "FIFO": directory / "fifo",
    }


@BY_TYPE
def test_file_system_oddities(target: FuzzTarget, tmp_path: Path) -> None:
    gold, submission = target.write_files(tmp_path / "files")
    found: list[str] = []
    odd = odd_paths(tmp_path / "odd")
    for name, path in odd.items():
        an_input = Case(name, "path", b"")  # a file to read: every odd path is refused
        a_place = Case(name, "path", b"", must_fail=False)  # a folder or a file to write: may be fine
        common = ["--task", target.card, *target.extra_args]
        found += problems_of(an_input, invoke("validate", str(path), *target.gold_args(gold), *common), path)
        found += problems_of(an_input, invoke("validate", str(submission), *target.gold_args(path), *common), path)
        found += problems_of(an_input, invoke("regress", "--expected", str(path), "--actual", str(path)), path)
        found += problems_of(an_input, invoke("submit", str(path), "--board", str(tmp_path / "board")), path)
        found += problems_of(a_place, invoke("score", "--predictions", str(submission), *target.gold_args(gold),
                                             *common, "--output", str(path / "out.json")), path)  # fmt: skip
        found += problems_of(a_place, invoke("submit", str(submission), "--board", str(path)), path)
        found += problems_of(a_place, invoke("leaderboard", "build", str(path), "--out", str(tmp_path / "s")), path)
        found += problems_of(a_place, invoke("leaderboard", "build", str(tmp_path / "board"), "--out", str(path)),
                             path)  # fmt: skip
        found += problems_of(a_place, invoke("tasks", "--tasks-dir", str(path)), path)
    report(found, len(odd))


def test_the_suite_is_a_few_thousand_cases(tmp_path: Path) -> None:
    """The fuzz suite's size, so that a change to the mutators that empties it is seen."""
    rng = random.Random(SEED)
    total = 0
    for target in TARGETS:
        gold, submission = target.write_files(tmp_path / target.type)
        total += 2 * len(list(submission_cases(target, gold, submission, rng)))
        total += 2 * len(list(gold_cases(target, gold, rng)))
        total += 4 * len(list(results_cases(good_results(target, tmp_path / f"r-{target.type}").read_bytes(), rng,
                                            DAMAGE_PER_FILE // 2)))  # fmt: skip
        total += 2 * len(list(card_cases("name: x\n", rng, DAMAGE_PER_FILE // 2)))
    assert total > 2000, total
