#!/usr/bin/env bash
# Multi-turn vs single-shot GRPO on the held-out two-hop questions (issue #6), same model, data and budget.
#   scripts/twohop_compare.sh [section.key=value ...]   -> runs/twohop/{multiturn,singleshot}/eval{,-warmstart}
# Steps: bootstrap models/tiny-search (skipped when it exists), index the two-hop corpus, evaluate the warm
# start both ways, GRPO multi-turn and single-shot (BM25 top-4 in the prompt: as many passages as 2 calls x 2),
# evaluate both. Extra overrides apply to both training runs. Times go to runs/twohop/times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=runs/twohop
CFG=configs/multiturn.yaml
SINGLE=(rollout.mode=single 'rewards=[{name: exact_match}, {name: grounded, weight: 0.5}, {name: format, weight: 0.2}]')
mkdir -p "$OUT"
t() { local s=$SECONDS; "$@"; echo "$(date -u +%FT%T) $((SECONDS - s)) s: ${*:1:3}" >>"$OUT/times.txt"; }
[ -f models/tiny-search/config.json ] || t "$BIN/grpo-rag" bootstrap "$CFG"
[ -d "$OUT/index" ] || t "$BIN/grpo-rag" index --corpus data/demo/twohop_corpus.jsonl --out "$OUT/index"
IDX=retrieval.index_dir="$OUT/index"
t "$BIN/grpo-rag" eval --config "$CFG" --checkpoint models/tiny-search --out "$OUT/multiturn/eval-warmstart" "$IDX"
t "$BIN/grpo-rag" eval --config "$CFG" --checkpoint models/tiny-search --out "$OUT/singleshot/eval-warmstart" "$IDX" "${SINGLE[@]}"
t "$BIN/grpo-rag" train "$CFG" training.output_dir="$OUT/multiturn" "$IDX" "$@" --overwrite
t "$BIN/grpo-rag" eval --config "$CFG" --checkpoint "$OUT/multiturn" --out "$OUT/multiturn/eval" "$IDX"
t "$BIN/grpo-rag" train "$CFG" training.output_dir="$OUT/singleshot" "$IDX" "${SINGLE[@]}" "$@" --overwrite
t "$BIN/grpo-rag" eval --config "$CFG" --checkpoint "$OUT/singleshot" --out "$OUT/singleshot/eval" "$IDX" "${SINGLE[@]}"
