"""The GitHub Actions job in docs/leaderboard.md is valid YAML and its command works."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import yaml

DOC = Path(__file__).resolve().parents[1] / "docs" / "leaderboard.md"
ROOT = DOC.parents[1]


def workflow() -> dict[str, object]:
    text = DOC.read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```yaml\n(.*?)```", text, re.S) if "jobs:" in b)
    parsed = yaml.safe_load(block)
    assert isinstance(parsed, dict)
    return parsed


def test_workflow_runs_the_sample_task_and_fails_on_regression(tmp_path: Path) -> None:
    job = workflow()["jobs"]["regress"]  # type: ignore[index]
    step = next(s for s in job["steps"] if "--expect" in s.get("run", ""))
    command = step["run"].replace("muge-eval", f"{shlex.quote(sys.executable)} -m muge_eval")
    golden = tmp_path / "golden.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "MODEL": job["env"]["MODEL"],
        "MODEL_ARGS": job["env"]["MODEL_ARGS"],
        "GOLDEN": str(golden),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
    }
    make = [sys.executable, "-m", "muge_eval", "--quiet", "run", "--task", "muge-retrieval-sample", "--model", "random"]
    subprocess.run([*make, "--output-dir", str(tmp_path / "golden-run")], check=True, env=env, cwd=tmp_path)
    golden.write_bytes((tmp_path / "golden-run" / "results.json").read_bytes())
    passed = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "PASSED" in (tmp_path / "summary.md").read_text(encoding="utf-8")
    document = json.loads(golden.read_text(encoding="utf-8"))
    document["metrics"]["mean_recall"] += 0.5
    golden.write_text(json.dumps(document), encoding="utf-8")
    failed = subprocess.run(["bash", "-c", command], env=env, cwd=tmp_path, capture_output=True, text=True)
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "REGRESSED" in failed.stdout
