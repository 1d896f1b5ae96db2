"""How much of the held-out QA a prompt budget keeps answerable: per `prompt.max_tokens` and `prompt.cut`, the
mean prompt length and the share of span questions whose answer still occurs in the passages shown.

No model runs (the tokenizer only). Usage:
    .venv/bin/python scripts/prompt_budget_probe.py [configs/smollm2.yaml] [budgets, e.g. 256,224,192]
"""

from __future__ import annotations

import statistics
import sys

from grpo_rag.evaluation.evaluate import eval_prompts
from grpo_rag.pipeline.budget import prompt_tokens
from grpo_rag.pipeline.checks import answers_in_gold
from grpo_rag.sections import load_config
from grpo_rag.training.modeling import load_tokenizer


def main() -> None:
    config = sys.argv[1] if len(sys.argv) > 1 else "configs/smollm2.yaml"
    budgets = sys.argv[2].split(",") if len(sys.argv) > 2 else ["null", "256", "224", "192", "160"]
    tok = None
    print("| max_tokens | cut | mean prompt tokens | answer shown | per domain |")
    print("|---|---|---|---|---|")
    for budget in budgets:
        for cut in ("head", "focus") if budget != "null" else ("head",):
            cfg = load_config(config, [f"prompt.max_tokens={budget}", f"prompt.cut={cut}"])
            tok = tok or load_tokenizer(cfg.model.name_or_path)
            rows, _ = eval_prompts(cfg, tok)
            lengths = [prompt_tokens(p, tok) for p in rows["prompt"]]
            shown = answers_in_gold(rows["answers"], rows["passages"])
            by: dict[str, list[bool]] = {}
            for domain, x in zip(rows["domain"], shown, strict=True):
                if x is not None:
                    by.setdefault(domain, []).append(x)
            judged = [x for x in shown if x is not None]
            per = ", ".join(f"{d} {sum(v) / len(v):.3f}" for d, v in sorted(by.items()))
            print(
                f"| {budget} | {cut} | {statistics.mean(lengths):.0f} | "
                f"{sum(judged) / len(judged):.3f} (n={len(judged)}) | {per} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
