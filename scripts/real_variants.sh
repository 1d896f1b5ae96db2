#!/usr/bin/env bash
# Reproduce the real-model GRPO variants of docs/experiments/2026-12-01-smollm2-demo.md (configs/smollm2.yaml,
# SmolLM2 installed, `make demo` run once so that runs/demo/index and runs/demo/warm-start/adapter exist).
#   scripts/real_variants.sh grpo NAME [section.key=value ...]  -> runs/NAME (+ /eval), from the demo's warm start
#   scripts/real_variants.sh sft-speed full|compact             -> 6 warm-start steps without / with the CPU patch
# Examples (the fourth session's rows):
#   scripts/real_variants.sh grpo grpo-flat training.max_steps=30 training.save_steps=10
#   scripts/real_variants.sh grpo grpo-sr-none training.max_steps=30 training.scale_rewards=none
#   scripts/real_variants.sh grpo grpo-flat80 training.max_steps=80 training.save_steps=20
#   scripts/real_variants.sh grpo grpo-g8s40 training.num_generations=8 training.per_device_train_batch_size=32 \
#     training.max_steps=40 training.save_steps=20        # 2026-12-02: 4 questions x 8 samples
set -euo pipefail
PY=${PY:-.venv/bin/python}
case "$1" in
  grpo)
    name=$2; shift 2
    $PY -m grpo_rag.cli train configs/smollm2.yaml --overwrite lora.init_adapter=runs/demo/warm-start/adapter \
      "training.output_dir=runs/$name" "$@"
    $PY -m grpo_rag.cli eval configs/smollm2.yaml --checkpoint "runs/$name" --out "runs/$name/eval"
    ;;
  sft-speed)
    $PY - "$2" <<'PYEOF'
import json, sys
import grpo_rag.training.sft as sft
from grpo_rag.sections import load_config
mode = sys.argv[1]
if mode == "full":  # TRL's own CPU path: every prompt position scored
    sft.score_completions_only_on_cpu = lambda: None
cfg = load_config("configs/smollm2.yaml", [])
out = f"runs/sft-speed-{mode}"
summary = sft.train_sft(cfg, sft.SFTOptions(steps=6, learning_rate=3e-4, batch_size=8), out, overwrite=True)
print(mode, summary["train_seconds"], "s for 6 steps")
print([json.loads(line).get("loss") for line in open(f"{out}/metrics.jsonl")])
PYEOF
    ;;
  *) echo "usage: $0 grpo NAME [overrides] | sft-speed full|compact" >&2; exit 2 ;;
esac
