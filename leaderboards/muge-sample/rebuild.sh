#!/usr/bin/env bash
# Regenerate the results of the built-in baselines on the bundled samples, submit them to
# this board (replacing the stored ones) and build the site. Every stored result is one of
# these baselines: they are submitted to a fresh copy of the board, whose results then
# replace the stored ones, so a results file that the board's current columns reject (one
# written before a column was added) cannot stop the rebuild, and a failed rebuild leaves
# the stored results as they were.
#   usage: leaderboards/muge-sample/rebuild.sh [SITE_DIR]   (default: leaderboards/muge-sample/site)
# Needs `muge-eval` on the PATH (or set MUGE_EVAL="python -m muge_eval").
set -euo pipefail
board="$(cd "$(dirname "$0")" && pwd)"
site="${1:-$board/site}"
muge_eval=(${MUGE_EVAL:-muge-eval})
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
staged="$work/board"
mkdir -p "$staged/results"
cp "$board/board.yaml" "$staged/"

baseline() {  # TASK MODEL DISPLAY_NAME [MODEL_ARGS]
  local out="$work/$1/$3"
  "${muge_eval[@]}" --quiet run --task "$1" --model "$2" --model-name "$3" --model-args "${4:-}" \
    --log-samples --output-dir "$out" >/dev/null
  "${muge_eval[@]}" submit "$out/results.json" --board "$staged" --replace
}

# Two seeds of the chance baseline: their difference is noise, which the site marks.
baseline muge-retrieval-sample random random
baseline muge-retrieval-sample random random-seed7 seed=7
# Captioning: the human-agreement baseline (one reference held out per image), two seeds.
baseline muge-caption-sample human human
baseline muge-caption-sample human human-seed7 seed=7

# Text-to-image: the procedural colour-keyword generator, judged by the random retrieval
# baseline. Only the judged metrics are asked for: FID, IS, KID and precision/recall need
# the FID Inception weights and FD-DINOv2 needs DINOv2 weights, which are not bundled (and
# naming the metrics keeps the board the same on a machine that has them).
baseline_t2i() {  # DISPLAY_NAME JUDGE_ARGS
  local out="$work/muge-t2i-sample/$1"
  "${muge_eval[@]}" --quiet run --task muge-t2i-sample --model procedural --model-name "$1" \
    --metrics clip_score,r_precision,cmmd --judge random --judge-args "$2" \
    --log-samples --output-dir "$out" >/dev/null
  "${muge_eval[@]}" submit "$out/results.json" --board "$staged" --replace
}
baseline_t2i procedural seed=1234

rm -rf "$board/results"
cp -r "$staged/results" "$board/results"

"${muge_eval[@]}" leaderboard build "$board" --out "$site"
