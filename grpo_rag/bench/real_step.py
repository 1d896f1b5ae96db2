"""`make bench`'s real-model figure: seconds per GRPO step of SmolLM2-135M-Instruct on this machine.

Runs a few GRPO steps of `configs/smollm2.yaml` (4 prompts x 4 samples) through `train()` and splits each
step into generation, reward scoring and the rest (the policy's forward and backward passes), from the
`step_time`, `time/generate_s` and `time/rewards_s` the run logs. The first step is a warm-up and is left out.
Measured three ways: as TRL runs it (every row trained, every copy of a prompt encoded: the cost of a step
where every group has a reward signal, the issue's figure); with each prompt encoded once for its samples
(`training.shared_prefill.prefill_once_per_prompt`); and as training runs, where rows with advantage 0 also skip
the forward and backward passes (`training.grpo.drop_flat_rows`). From the untrained model half the rows or
more are flat (8 of 16 measured), so the last figure is a floor.
Writes bench/real_model_step.{json,md}. Skipped, with what to run, when the model is not installed.
Usage: python -m grpo_rag.bench.real_step [--config configs/smollm2.yaml] [--steps 6] [--out bench]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from pathlib import Path
from typing import Any

GOAL_S = 15.0  # the real-model issue's goal for one 4 x 4 step on 2 cores
# name -> (every row trained, one prompt pass per prompt, label)
RUNS = {
    "trl": (True, False, "TRL's step: every row trained, every prompt copy encoded"),
    "every_row": (True, True, "every row trained, one prompt pass per prompt"),
    "as_trained": (False, True, "as trained: rows with advantage 0 skipped too"),
}


def measure(config: str, steps: int, *, every_row: bool, shared_prefill: bool) -> dict[str, Any]:
    """Train `steps` GRPO steps in a temporary folder; per-step means of the logged timings (step 1 left out).

    `every_row`: turn the flat-row skip off, so that all rows of the batch go through forward and backward.
    `shared_prefill` False: encode every copy of a prompt, as TRL's `generate` call does.
    """
    from contextlib import nullcontext

    import grpo_rag.training.grpo as grpo
    from grpo_rag.sections import load_config

    skip, prefill = grpo.drop_flat_rows, grpo.prefill_once_per_prompt
    if every_row:
        grpo.drop_flat_rows = lambda trainer, inputs: inputs
    if not shared_prefill:
        grpo.prefill_once_per_prompt = lambda model: nullcontext()

    with tempfile.TemporaryDirectory() as tmp:
        overrides = [
            f"training.max_steps={steps}",
            f"training.output_dir={tmp}/run",
            "training.logging_steps=1",
            f"training.save_steps={steps + 1}",
        ]
        cfg = load_config(config, overrides)
        try:
            summary = grpo.train(cfg)
        finally:
            grpo.drop_flat_rows, grpo.prefill_once_per_prompt = skip, prefill
        rows = [json.loads(line) for line in Path(tmp, "run/metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "step_time" in r and r["step"] > 1]

    def mean(key: str) -> float:
        return round(statistics.fmean(r[key] for r in rows), 2)

    step, generate, rewards = mean("step_time"), mean("time/generate_s"), mean("time/rewards_s")
    args = cfg.training
    return {
        "config": config,
        "model": cfg.model.name_or_path,
        "prompts_x_samples": f"{args['per_device_train_batch_size'] // args['num_generations']} x {args['num_generations']}",
        "max_prompt_tokens": cfg.prompt.max_tokens,
        "max_completion_length": args["max_completion_length"],
        "lora_targets": cfg.lora.target_modules,
        "steps_measured": len(rows),
        "step_s": step,
        "generate_s": generate,
        "rewards_s": rewards,
        "forward_backward_s": round(step - generate - rewards, 2),
        "rows_trained": mean("rows_trained"),
        "rows_per_step": args["per_device_train_batch_size"],
        "goal_s": GOAL_S,
        "goal_met": step <= GOAL_S,
        "train_seconds": summary["train_seconds"],
        "machine": f"{platform.machine()}, {platform.processor() or 'cpu'}",
    }


def markdown(runs: dict[str, dict[str, Any]]) -> str:
    res = runs["trl"]
    lines = [
        "# Real-model GRPO step (SmolLM2-135M-Instruct)",
        "",
        f"Command: `python -m grpo_rag.bench.real_step --config {res['config']}`; {res['prompts_x_samples']} per "
        f"step, prompts <= {res['max_prompt_tokens']} tokens, {res['max_completion_length']} new tokens, "
        f"LoRA on {res['lora_targets']}; mean of {res['steps_measured']} steps after a warm-up step, from the "
        "untrained model.",
        "",
        "| step | rows trained | seconds per step | generation | rewards | forward + backward | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in RUNS:
        r = runs[name]
        lines.append(
            f"| {RUNS[name][2]} | {r['rows_trained']} of {r['rows_per_step']} | **{r['step_s']}** | {r['generate_s']} "
            f"| {r['rewards_s']} | {r['forward_backward_s']} | <= {r['goal_s']}: {'met' if r['goal_met'] else 'missed'} |"
        )
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/smollm2.yaml")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("bench"))
    args = parser.parse_args(argv)
    from grpo_rag.sections import load_config

    model = Path(load_config(args.config).model.name_or_path)
    if not model.is_dir():
        print(
            f"real-model step: skipped, {model} is not installed (grpo-rag model install smollm2-135m-instruct)"
        )
        return 0
    runs = {
        name: measure(args.config, args.steps, every_row=every_row, shared_prefill=shared)
        for name, (every_row, shared, _) in RUNS.items()
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "real_model_step.json").write_text(json.dumps(runs, indent=2) + "\n", encoding="utf-8")
    (args.out / "real_model_step.md").write_text(markdown(runs), encoding="utf-8")
    print(markdown(runs))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
