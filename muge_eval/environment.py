"""What the run happened on: Python, platform, key package versions, git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

KEY_PACKAGES = (
    "muge-eval",
    "numpy",
    "datasets",
    "pillow",
    "jieba",
    "pycocoevalcap",
    "pandas",
    "click",
    "faiss-cpu",
    "torch",
    "transformers",
    "diffusers",
)


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit(directory: Path) -> str | None:
    """The commit of the checkout ``directory`` is in, if it is in one."""
    try:
        result = subprocess.run(
            ["git", "-C", str(directory), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = result.stdout.strip()
    return commit if result.returncode == 0 and len(commit) == 40 else None


def describe_environment(working_dir: Path | None = None) -> dict[str, Any]:
    packages = {name: version for name in KEY_PACKAGES if (version := package_version(name)) is not None}
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
        "git_commit": git_commit(working_dir or Path.cwd()),
    }
