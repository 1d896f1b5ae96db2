"""GRPO's own share over its warm start, per run: the table of the experiment entries.

Usage: python scripts/grpo_share.py [--eval eval-fresh] RUN_DIR [RUN_DIR ...]
Per-domain columns are in domain order (amazon / pubmedqa / reddit / tatqa / wikipedia on data/real).
Each RUN_DIR is a GRPO run continued from a warm start (its `lora.init_adapter` in config.resolved.yaml);
both must have been scored into `eval/` (`grpo-rag eval CONFIG --checkpoint DIR --out DIR/eval`), or into the
folder `--eval` names (e.g. `eval-fresh`, questions from scripts/fresh_heldout.py).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from grpo_rag.demo.real import row, span_exact_match
from grpo_rag.evaluation.paired import paired_difference, question_scores


def scores(folder: Path) -> dict:
    """The demo's row of one evaluation, with the yes/no domains' commonest answer and its share."""
    metrics = json.loads((folder / "metrics.json").read_text())
    r = row(metrics)
    r["top"] = {
        d: (v["top_prediction"], v["top_prediction_share"]) for d, v in metrics["label_questions"].items()
    }
    return r


def main(runs: list[str], eval_name: str = "eval") -> None:
    print(
        "| run | warm start EM / F1 | + GRPO EM / F1 | GRPO over the warm start [95%] | of it, span domains "
        "| EM per domain | commonest yes/no answer | groups with signal, per domain | GRPO time |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for run in map(Path, runs):
        init = yaml.safe_load((run / "config.resolved.yaml").read_text())["lora"]["init_adapter"]
        warm_dir, grpo_dir = Path(init).parent / eval_name, run / eval_name
        warm, grpo = scores(warm_dir), scores(grpo_dir)
        paired = paired_difference(
            question_scores(grpo_dir, lenient=True), question_scores(warm_dir, lenient=True), "exact_match"
        )
        ci = f" [{paired['ci95'][0] * 100:+.1f}, {paired['ci95'][1] * 100:+.1f}]" if paired else ""
        # from the per-question scores, as the interval is (metrics.json's rounded means can tip a .x5)
        gain = paired["difference"] if paired else grpo["exact_match"] - warm["exact_match"]
        span = (span_exact_match(grpo) - span_exact_match(warm)) * 100
        domains = " / ".join(
            f"{grpo['per_domain'][d]['exact_match']:.3f}" for d in sorted(grpo["per_domain"])
        )
        top = ", ".join(f'"{a}" {s:.2f}' for a, s in grpo["top"].values())
        seconds = json.loads((run / "train_summary.json").read_text())["train_seconds"]
        logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        signal: dict[str, list[float]] = {}  # per domain, its logged steps' shares (a mean of means)
        for r in logged:
            for k, v in r.items():
                if k.startswith("signal/"):
                    signal.setdefault(k.removeprefix("signal/"), []).append(v)
        signal_text = " / ".join(f"{sum(v) / len(v):.2f}" for _, v in sorted(signal.items())) or "-"
        print(
            f"| {run.name} | {warm['exact_match']:.3f} / {warm['f1']:.3f} | {grpo['exact_match']:.3f} / "
            f"{grpo['f1']:.3f} | {gain * 100:+.1f}{ci} | {span:+.1f} "
            f"| {domains} | {top} | {signal_text} | {seconds:,.0f} s |"
        )


if __name__ == "__main__":
    args = sys.argv[1:]
    if args[:1] == ["--eval"]:
        main(args[2:], args[1])
    else:
        main(args)
