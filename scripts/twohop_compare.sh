#!/usr/bin/env bash
# Multi-turn vs single-shot GRPO on the held-out two-hop questions (issue #6), same model, data and budget.
#   scripts/twohop_compare.sh [section.key=value ...]   -> $OUT/{multiturn,singleshot}/eval{,-warmstart}
# Environment: OUT (default runs/twohop), MODEL (default models/tiny-search), DATA (folder with
# twohop_{corpus,train,heldout}.jsonl, default data/demo).
# Steps: bootstrap $MODEL (skipped when it exists), index the two-hop corpus, evaluate the warm start both
# ways, GRPO multi-turn and single-shot (BM25 top-4 in the prompt: as many passages as 2 calls x 2), evaluate
# both. Extra overrides apply to the bootstrap and every run. Times go to $OUT/times.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=${OUT:-runs/twohop}
MODEL=${MODEL:-models/tiny-search}
DATA=${DATA:-data/demo}
CFG=configs/multiturn.yaml
SINGLE=(rollout.mode=single 'rewards=[{name: exact_match}, {name: grounded, weight: 0.5}, {name: format, weight: 0.2}]')
COMMON=(model.name_or_path="$MODEL" data.corpus="$DATA/twohop_corpus.jsonl" data.train="$DATA/twohop_train.jsonl"
  data.eval="$DATA/twohop_heldout.jsonl" retrieval.index_dir="$OUT/index" "$@")
mkdir -p "$OUT"
t() { local s=$SECONDS; "$@"; echo "$(date -u +%FT%T) $((SECONDS - s)) s: ${*:1:3}" >>"$OUT/times.txt"; }
[ -f "$MODEL/config.json" ] || t "$BIN/grpo-rag" bootstrap "$CFG" "${COMMON[@]}" --out "$MODEL"
[ -d "$OUT/index" ] || t "$BIN/grpo-rag" index --corpus "$DATA/twohop_corpus.jsonl" --out "$OUT/index"
t "$BIN/grpo-rag" eval "$CFG" --checkpoint "$MODEL" --out "$OUT/multiturn/eval-warmstart" "${COMMON[@]}"
t "$BIN/grpo-rag" eval "$CFG" --checkpoint "$MODEL" --out "$OUT/singleshot/eval-warmstart" "${COMMON[@]}" "${SINGLE[@]}"
t "$BIN/grpo-rag" train "$CFG" training.output_dir="$OUT/multiturn" "${COMMON[@]}" --overwrite
t "$BIN/grpo-rag" eval "$CFG" --checkpoint "$OUT/multiturn" --out "$OUT/multiturn/eval" "${COMMON[@]}"
t "$BIN/grpo-rag" train "$CFG" training.output_dir="$OUT/singleshot" "${COMMON[@]}" "${SINGLE[@]}" --overwrite
t "$BIN/grpo-rag" eval "$CFG" --checkpoint "$OUT/singleshot" --out "$OUT/singleshot/eval" "${COMMON[@]}" "${SINGLE[@]}"
