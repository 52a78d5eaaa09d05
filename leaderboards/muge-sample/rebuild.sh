#!/usr/bin/env bash
# Build this board's site from its stored results; optionally rerun the built-in baselines
# on the bundled samples to check or to replace the stored results.
#
#   usage: leaderboards/muge-sample/rebuild.sh [--check | --update] [SITE_DIR]
#     (no option)  build the site from the stored results; the checkout is not touched
#     --check      also rerun the baselines, submit them to a fresh copy of the board and
#                  compare each with its stored result (muge-eval regress, tolerance 0);
#                  exit 1 when a number differs or a result is missing on either side, 3
#                  when a run is not comparable
#     --update     rerun the baselines and replace the stored results and samples with
#                  theirs (tracked files change, on purpose), then build
#   SITE_DIR defaults to leaderboards/muge-sample/site (git-ignored).
#
# Stored results record when and on what they were made (created_at, environment), so a
# rerun never gives the same bytes: only --update writes them, and --check compares the
# numbers instead. The fresh runs go to a fresh copy of the board (no stored results), so a
# results file that the board's current columns reject cannot stop --update, and a failed
# --update leaves the stored results as they were. Every stored result is one of these
# baselines. Needs `muge-eval` on the PATH (or set MUGE_EVAL="python -m muge_eval").
set -euo pipefail
mode=build
case "${1:-}" in
  --check) mode=check; shift ;;
  --update) mode=update; shift ;;
  -*) echo "unknown option $1 (use --check or --update)" >&2; exit 2 ;;
esac
board="$(cd "$(dirname "$0")" && pwd)"
site="${1:-$board/site}"
muge_eval=(${MUGE_EVAL:-muge-eval})
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
staged="$work/board"
mkdir -p "$staged/results"
cp "$board/board.yaml" "$staged/"

submit() {  # RESULTS_JSON CARD
  "${muge_eval[@]}" submit "$1" --board "$staged" --replace --card "$board/cards/$2.yaml" >/dev/null
}

baseline() {  # TASK MODEL DISPLAY_NAME [MODEL_ARGS]
  local out="$work/runs/$1/$3"
  "${muge_eval[@]}" --quiet run --task "$1" --model "$2" --model-name "$3" --model-args "${4:-}" \
    --log-samples --output-dir "$out" >/dev/null
  submit "$out/results.json" "$2"
}

# Text-to-image: only the judged metrics are asked for: FID, IS, KID and precision/recall
# need the FID Inception weights and FD-DINOv2 needs DINOv2 weights, which are not bundled
# (and naming the metrics keeps the board the same on a machine that has them).
baseline_t2i() {  # DISPLAY_NAME JUDGE_ARGS
  local out="$work/runs/muge-t2i-sample/$1"
  "${muge_eval[@]}" --quiet run --task muge-t2i-sample --model procedural --model-name "$1" \
    --metrics clip_score,r_precision,cmmd --judge random --judge-args "$2" \
    --log-samples --output-dir "$out" >/dev/null
  submit "$out/results.json" procedural
}

if [ "$mode" != build ]; then
  # Two seeds of the chance baseline: their difference is noise, which the site marks.
  baseline muge-retrieval-sample random random
  baseline muge-retrieval-sample random random-seed7 seed=7
  # Captioning: the human-agreement baseline (one reference held out per image), two seeds.
  baseline muge-caption-sample human human
  baseline muge-caption-sample human human-seed7 seed=7
  # The procedural colour-keyword generator, judged by the random retrieval baseline.
  baseline_t2i procedural seed=1234
  # Zero-shot classification: the chance baseline, two seeds.
  baseline classification-sample random random
  baseline classification-sample random random-seed7 seed=7
fi

if [ "$mode" = check ]; then
  status=0
  for stored in "$board"/results/*.json; do
    [ -f "$staged/results/$(basename "$stored")" ] || {
      echo "$(basename "$stored"): stored, but no baseline makes it (run --update)" >&2
      status=1
    }
  done
  for fresh in "$staged"/results/*.json; do
    stored="$board/results/$(basename "$fresh")"
    if [ ! -f "$stored" ]; then
      echo "$(basename "$fresh"): a baseline that is not stored on the board (run --update)" >&2
      status=1
      continue
    fi
    code=0
    "${muge_eval[@]}" regress --expected "$stored" --actual "$fresh" >/dev/null 2>&1 || code=$?
    if [ "$code" -ne 0 ]; then
      echo "$(basename "$fresh"): the stored result differs from a fresh run (regress exit $code):" >&2
      "${muge_eval[@]}" regress --expected "$stored" --actual "$fresh" >&2 || true
      [ "$status" -ne 0 ] || status=$code
    fi
  done
  [ "$status" -eq 0 ] || exit "$status"
  echo "stored results reproduced by fresh runs"
elif [ "$mode" = update ]; then
  rm -rf "$board/results"
  cp -r "$staged/results" "$board/results"
fi

"${muge_eval[@]}" leaderboard build "$board" --out "$site"
