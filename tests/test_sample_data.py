"""The bundled samples rebuild byte for byte from their generator scripts."""

from __future__ import annotations

import hashlib
import runpy
from pathlib import Path

import pytest

TASKS = Path(__file__).resolve().parents[1] / "tasks"
SAMPLES = sorted(p.parent for p in TASKS.glob("*/generate.py"))


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_sample_rebuilds_byte_for_byte(sample: Path, tmp_path: Path) -> None:
    sums = dict(reversed(line.split("  ")) for line in (sample / "SHA256SUMS").read_text().splitlines())
    module = runpy.run_path(str(sample / "generate.py"))
    module["build"](tmp_path)
    for name, digest in sums.items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest, name
        assert hashlib.sha256((sample / name).read_bytes()).hexdigest() == digest, f"committed {name} changed"
