#!/usr/bin/env bash
# The GPU acceptance figures in one run (see benchmarks/gpu_acceptance.py for what each is).
#
#   benchmarks/gpu_acceptance.sh                 # full scale: MUGE-valid-size data, ViT-B/16 (< 8 min on one modern GPU)
#   SCALE=smoke benchmarks/gpu_acceptance.sh     # toy sizes on the CPU (< 1 min): the test suite runs this
#   OUT=/some/dir benchmarks/gpu_acceptance.sh   # also writes /some/dir/gpu_acceptance.json
#
# Installs what is missing (muge-eval from this checkout with its torch and t2i extras; the
# existing torch is kept), builds data and random-weight models on the fly (no hub
# downloads), and prints every figure as a ratio to the model's own forward ceiling.
# Extra arguments go to gpu_acceptance.py (e.g. --dtypes bfloat16 --num-workers 15).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
python="${PYTHON:-python3}"

if ! "$python" -c "import muge_eval, torch, torchvision, transformers, pytorch_fid, PIL" 2>/dev/null; then
    echo "installing muge-eval[torch,t2i] from $root" >&2
    "$python" -m pip install --quiet "$root[torch,t2i]"
fi

export PYTHONPATH="$root${PYTHONPATH:+:$PYTHONPATH}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1
export TOKENIZERS_PARALLELISM=false HF_HUB_DISABLE_PROGRESS_BARS=1
exec "$python" "$here/gpu_acceptance.py" --scale "${SCALE:-full}" "$@"
