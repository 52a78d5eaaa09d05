"""Finding the user's copy of the FID Inception weights; nothing is downloaded.

Search order: the ``inception_weights`` task option (``--inception-weights PATH``), the
environment variable ``MUGE_EVAL_INCEPTION_WEIGHTS``, then the file name in
``$MUGE_EVAL_CACHE/weights`` (default ``~/.cache/muge-eval/weights``) and in torch hub's
checkpoint directory (``$TORCH_HOME/hub/checkpoints``, where pytorch-fid itself saves it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from muge_eval.cache import cache_dir
from muge_eval.errors import InputError, Problem, UsageError
from muge_eval.fingerprint import file_sha256

WEIGHTS_FILE = "pt_inception-2015-12-05-6726825d.pth"
# torch.hub convention: the hex in the file name is the start of the file's sha256.
WEIGHTS_SHA256_PREFIX = "6726825d"
WEIGHTS_URL = "https://github.com/mseitzer/pytorch-fid/releases/download/fid_weights/" + WEIGHTS_FILE
ENV_WEIGHTS = "MUGE_EVAL_INCEPTION_WEIGHTS"


@dataclass(frozen=True)
class InceptionWeights:
    path: Path
    sha256: str

    @property
    def standard(self) -> bool:
        return self.sha256.startswith(WEIGHTS_SHA256_PREFIX)


def candidate_paths() -> list[Path]:
    torch_home = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch").expanduser()
    return [cache_dir("weights") / WEIGHTS_FILE, torch_home / "hub" / "checkpoints" / WEIGHTS_FILE]


def missing_weights_message() -> str:
    places = ", ".join(str(p) for p in candidate_paths())
    return (
        f"FID and IS need the FID Inception weights {WEIGHTS_FILE} (the TF Inception graph of "
        f"2015-12-05 ported to PyTorch; its sha256 begins with {WEIGHTS_SHA256_PREFIX}), published "
        f"with pytorch-fid's GitHub release 'fid_weights': {WEIGHTS_URL}. Pass --inception-weights PATH, "
        f"set {ENV_WEIGHTS}, or put the file in one of: {places}. FID and IS were not computed."
    )


def find_weights(option: str | None) -> Path | None:
    """The weights path, or None when none is configured anywhere."""
    if option:
        path = Path(option).expanduser()
        if not path.is_file():
            raise UsageError(f"--inception-weights: {path} is not a file")
        return path
    env = os.environ.get(ENV_WEIGHTS)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise UsageError(f"{ENV_WEIGHTS}: {path} is not a file")
        return path
    return next((p for p in candidate_paths() if p.is_file()), None)


def check_weights(path: Path, allow_nonstandard: bool) -> InceptionWeights:
    """Hash the file; a file that is not the published one is refused unless allowed."""
    weights = InceptionWeights(path, file_sha256(path))
    if not weights.standard and not allow_nonstandard:
        raise InputError(
            [
                Problem(
                    str(path),
                    f"sha256 {weights.sha256[:16]}... does not begin with {WEIGHTS_SHA256_PREFIX}: this is not "
                    f"{WEIGHTS_FILE}, so its FID would not be comparable with published numbers "
                    "(pass --task-args allow_nonstandard_weights=true to compute it anyway; it is recorded)",
                )
            ],
            "unexpected Inception weights",
        )
    return weights
