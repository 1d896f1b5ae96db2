#!/usr/bin/env bash
# Reproduce the demo variants listed in the README ("What was tried"). Each variant bootstraps or trains
# from configs/quickstart.yaml with overrides and evaluates on the held-out questions.
#   scripts/demo_variants.sh warm TAG [section.key=value ...]        -> runs/variants/model-TAG, .../TAG-eval
#   scripts/demo_variants.sh grpo TAG MODEL_DIR [section.key=value ...] -> runs/variants/grpo-TAG (+ /eval)
# Examples (the README's rows):
#   scripts/demo_variants.sh warm v bootstrap.sft_steps=900
#   scripts/demo_variants.sh warm w bootstrap.sft_steps=1300
#   scripts/demo_variants.sh warm x bootstrap.sft_steps=900 bootstrap.counterfactual_values=pool
#   scripts/demo_variants.sh grpo vp50 runs/variants/model-v data.counterfactual_fraction=0.5
#   scripts/demo_variants.sh grpo vp100 runs/variants/model-v data.counterfactual_fraction=1.0
#   scripts/demo_variants.sh grpo v50 runs/variants/model-v data.counterfactual_values=novel
#   scripts/demo_variants.sh grpo vp50lr4 runs/variants/model-v training.learning_rate=4e-3
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
OUT=runs/variants
mkdir -p "$OUT"
kind=$1 tag=$2
shift 2
case $kind in
  warm)
    "$BIN/grpo-rag" bootstrap configs/quickstart.yaml retrieval.index_dir=null "$@" --out "$OUT/model-$tag" --force
    "$BIN/grpo-rag" eval --config configs/quickstart.yaml --checkpoint "$OUT/model-$tag" \
      --out "$OUT/$tag-eval" retrieval.index_dir=null "$@"
    ;;
  grpo)
    model=$1
    shift
    "$BIN/grpo-rag" train configs/quickstart.yaml model.name_or_path="$model" \
      training.output_dir="$OUT/grpo-$tag" retrieval.index_dir=null "$@" --overwrite
    "$BIN/grpo-rag" eval --config configs/quickstart.yaml --checkpoint "$OUT/grpo-$tag" \
      --out "$OUT/grpo-$tag/eval" model.name_or_path="$model" retrieval.index_dir=null "$@"
    ;;
  *) echo "usage: $0 warm|grpo TAG ..." >&2; exit 2 ;;
esac
