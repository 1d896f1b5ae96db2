"""Time greedy evaluation of an adapter several ways on the same held-out prompts (SmolLM2 demo).

Each variant is `name:batch_size`, run in order in one process (the first pays the warm-up):
plain (as `grpo-rag eval` runs), sorted (prompts ordered by length), bf16lora (LoRA weights cast to the
model's bf16; stays for later variants), merged (LoRA merged into the bf16 weights; stays too).
Prints seconds per question and how many greedy answers equal the first variant's.
Usage (after `make demo`): .venv/bin/python scripts/eval_speed.py runs/demo plain:16,plain:32,merged:16 96
"""

from __future__ import annotations

import sys
import time

import torch

from grpo_rag.evaluation.evaluate import eval_prompts
from grpo_rag.evaluation.generate import generate
from grpo_rag.sections import load_config
from grpo_rag.training.modeling import load_for_inference


def main(checkpoint: str, variants: str, n: int = 64) -> None:
    cfg = load_config("configs/smollm2.yaml", [])
    model, tok = load_for_inference(cfg.model, None if checkpoint == "base" else checkpoint)
    prepared, _ = eval_prompts(cfg, tok, limit=300)
    prompts = [prepared[i]["prompt"] for i in range(0, len(prepared), max(1, len(prepared) // n))][:n]
    first: list[str] | None = None
    for variant in variants.split(","):
        name, batch = variant.split(":")
        if name == "bf16lora":
            for key, p in model.named_parameters():
                if "lora_" in key:
                    p.data = p.data.to(torch.bfloat16)
        if name == "merged":
            model = model.merge_and_unload()
        order = list(range(len(prompts)))
        if name == "sorted":
            order.sort(key=lambda i: len(tok(prompts[i])["input_ids"]))
        start = time.time()
        texts = generate(
            model, tok, [prompts[i] for i in order], cfg.eval.max_new_tokens, int(batch), desc=variant
        )
        seconds = time.time() - start
        answers = [""] * len(prompts)
        for i, text in zip(order, texts, strict=True):
            answers[i] = text
        same = "-" if first is None else str(sum(a == b for a, b in zip(first, answers, strict=True)))
        first = first or answers
        print(
            f"{variant}: {seconds:.1f} s for {len(prompts)} ({seconds / len(prompts):.3f} s/question), same: {same}"
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], *(int(a) for a in sys.argv[3:4]))
