"""``benchmarks/gpu_acceptance.sh`` at its smoke scale on the CPU: every figure of the GPU
run is measured (retrieval fp16/bf16 x decode cpu/torchvision, FID Inception features,
caption tokens), each against its ceiling, and the JSON lands in ``$OUT``."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # about 50 s on 2 cores: five `muge-eval run` subprocesses
def test_the_gpu_script_runs_at_smoke_scale_on_the_cpu(tmp_path: Path) -> None:
    for module in ("torch", "torchvision", "transformers", "pytorch_fid"):
        pytest.importorskip(module)
    if shutil.which("bash") is None:
        pytest.skip("needs bash")
    env = {**os.environ, "SCALE": "smoke", "OUT": str(tmp_path / "out"), "PYTHON": sys.executable}
    env["CUDA_VISIBLE_DEVICES"] = ""  # the CPU path, even on a machine with a GPU
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks" / "gpu_acceptance.sh"), "--workdir", str(tmp_path / "work")],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, (done.stdout + done.stderr)[-4000:]
    assert "installing" not in done.stderr  # everything was there already
    document = json.loads((tmp_path / "out" / "gpu_acceptance.json").read_text(encoding="utf-8"))
    assert document["scale"] == "smoke" and document["hardware"]["device"] == "cpu"
    names = [f["name"] for f in document["figures"]]
    for dtype in ("float16", "bfloat16"):
        for decode in ("cpu", "torchvision"):
            assert f"muge-eval run images, {dtype}, decode={decode}" in names
    assert any(n.startswith("FID Inception") for n in names)
    assert any(n.startswith("muge-eval run captions") for n in names)
    for figure in document["figures"]:
        assert figure["rate"] > 0 and figure["ceiling"] > 0, figure
        assert figure["share"] == pytest.approx(figure["rate"] / figure["ceiling"])
    assert "of the ceiling:" in done.stdout and isinstance(document["target_met"], bool)
