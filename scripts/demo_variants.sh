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
#   scripts/demo_variants.sh grpo cs1 runs/variants/model-v \
#     'rewards=[{name: exact_match}, {name: f1, weight: 0.5}, {name: char_similarity}, {name: grounded, weight: 0.5}, {name: format, weight: 0.2}]'
#   scripts/demo_variants.sh grpo t07 runs/variants/model-v training.temperature=0.7
#   scripts/demo_variants.sh warm v2k bootstrap.vocab_size=2048
#   scripts/demo_variants.sh warm cf100 bootstrap.counterfactual_fraction=1.0
# Answer-only warm-start loss (the quickstart's setting since session 3): steps, copy drills, GRPO length
# (the quickstart has since moved to sft_steps 1300 / max_steps 300; pass the old values to repeat a row):
#   scripts/demo_variants.sh warm nofs bootstrap.sft_steps=900
#   scripts/demo_variants.sh warm cp50 bootstrap.sft_steps=900 bootstrap.copy_fraction=0.5
#   scripts/demo_variants.sh warm n1300 bootstrap.sft_steps=1300
#   scripts/demo_variants.sh warm n1600 bootstrap.sft_steps=1600
#   scripts/demo_variants.sh grpo n1300 runs/variants/model-n1300 training.max_steps=200
#   scripts/demo_variants.sh grpo n1300s300 runs/variants/model-n1300 training.max_steps=300
# Seed robustness of the default (bootstrap and GRPO seeds changed together):
#   scripts/demo_variants.sh warm s1b bootstrap.seed=1
#   scripts/demo_variants.sh grpo s1b runs/variants/model-s1b training.seed=1
#   scripts/demo_variants.sh warm s2b bootstrap.seed=2
#   scripts/demo_variants.sh grpo s2b runs/variants/model-s2b training.seed=2
# Share of counterfactual swaps in the warm start (the quickstart uses 0.7):
#   scripts/demo_variants.sh warm cf0 bootstrap.counterfactual_fraction=0.0
#   scripts/demo_variants.sh grpo cf0 runs/variants/model-cf0
#   scripts/demo_variants.sh warm cf30 bootstrap.counterfactual_fraction=0.3
#   scripts/demo_variants.sh grpo cf30 runs/variants/model-cf30
# GRPO learning rate and group size, from the quickstart's warm start:
#   scripts/demo_variants.sh grpo lr1e3 runs/variants/model-n1300 training.learning_rate=1e-3
#   scripts/demo_variants.sh grpo g16 runs/variants/model-n1300 training.num_generations=16
# 5x the training entities: write the data first, then point the warm start at it:
#   python -c "from grpo_rag.demo.synth import SynthConfig, generate, write_kb; \
#     write_kb('runs/demo-big/data', *generate(SynthConfig(train_families=200)))"
#   D=runs/demo-big/data; scripts/demo_variants.sh warm big data.corpus=$D/corpus.jsonl \
#     data.train=$D/train.jsonl data.eval=$D/heldout.jsonl
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
    "$BIN/grpo-rag" eval configs/quickstart.yaml --checkpoint "$OUT/model-$tag" \
      --out "$OUT/$tag-eval" retrieval.index_dir=null "$@"
    ;;
  grpo)
    model=$1
    shift
    "$BIN/grpo-rag" train configs/quickstart.yaml model.name_or_path="$model" \
      training.output_dir="$OUT/grpo-$tag" retrieval.index_dir=null "$@" --overwrite
    "$BIN/grpo-rag" eval configs/quickstart.yaml --checkpoint "$OUT/grpo-$tag" \
      --out "$OUT/grpo-$tag/eval" model.name_or_path="$model" retrieval.index_dir=null "$@"
    ;;
  *) echo "usage: $0 warm|grpo TAG ..." >&2; exit 2 ;;
esac
