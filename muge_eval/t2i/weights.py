"""Finding the user's copy of feature-network weights; nothing is downloaded.

Search order, for each network: its task option (``--inception-weights PATH``,
``--dinov2-weights PATH``), its environment variable (``MUGE_EVAL_INCEPTION_WEIGHTS``,
``MUGE_EVAL_DINOV2_WEIGHTS``), then its usual file name in ``$MUGE_EVAL_CACHE/weights``
(default ``~/.cache/muge-eval/weights``) and in torch hub's checkpoint directory
(``$TORCH_HOME/hub/checkpoints``, where pytorch-fid and torch.hub save them).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
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


@dataclass(frozen=True)
class WeightsSearch:
    """Where one network's weights may be: its flag, environment variable and file name."""

    flag: str
    env: str
    file_name: str
    # Whether a directory (a saved transformers model) is accepted as well as a file.
    directory_ok: bool = False

    def candidates(self) -> list[Path]:
        torch_home = Path(os.environ.get("TORCH_HOME") or Path.home() / ".cache" / "torch").expanduser()
        return [cache_dir("weights") / self.file_name, torch_home / "hub" / "checkpoints" / self.file_name]

    def find(self, option: str | None) -> Path | None:
        """The configured path, or None when none is configured anywhere; a configured
        path that does not exist is a usage error."""
        exists: Callable[[Path], bool] = (lambda p: p.exists()) if self.directory_ok else (lambda p: p.is_file())
        what = "a file or directory" if self.directory_ok else "a file"
        for source, value in ((self.flag, option), (self.env, os.environ.get(self.env))):
            if value:
                path = Path(value).expanduser()
                if not exists(path):
                    raise UsageError(f"{source}: {path} is not {what}")
                return path
        return next((p for p in self.candidates() if p.is_file()), None)


INCEPTION_SEARCH = WeightsSearch("--inception-weights", ENV_WEIGHTS, WEIGHTS_FILE)


def candidate_paths() -> list[Path]:
    return INCEPTION_SEARCH.candidates()


def missing_weights_message(metrics: Iterable[str] = ("fid", "is_mean", "is_std")) -> str:
    listed = ", ".join(metrics)
    verb = "needs" if len(listed.split(", ")) == 1 else "need"
    places = ", ".join(str(p) for p in candidate_paths())
    return (
        f"{listed} {verb} the FID Inception weights {WEIGHTS_FILE} (the TF Inception graph of "
        f"2015-12-05 ported to PyTorch; its sha256 begins with {WEIGHTS_SHA256_PREFIX}), published "
        f"with pytorch-fid's GitHub release 'fid_weights': {WEIGHTS_URL}. Pass --inception-weights PATH, "
        f"set {ENV_WEIGHTS}, or put the file in one of: {places}. {listed} not computed."
    )


def find_weights(option: str | None) -> Path | None:
    """The Inception weights path, or None when none is configured anywhere."""
    return INCEPTION_SEARCH.find(option)


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
