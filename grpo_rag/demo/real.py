"""The main demo behind `make demo`: SmolLM2-135M-Instruct on the real held-out QA, before and after training.

Steps, each through the `grpo-rag` CLI so the demo runs exactly what users run:
install the model (once) -> index data/real -> evaluate the prompted base model (BM25, closed-book, oracle
passages) -> a short supervised format warm start (LoRA) -> evaluate it -> GRPO + LoRA continuing that adapter
-> evaluate (`--closed-book-after`: also without passages) -> print the per-domain before/after table.
Writes runs/demo/demo_summary.json (the contract checks read: config, heldout_questions, timings_s.total,
metrics.{baseline,warm_start,grpo}.{exact_match,f1,strict_exact_match}; exact_match and f1 are the lenient
figures; also `gain_intervals`, GRPO's paired gains with 95% bootstrap intervals) and runs/demo/demo_report.md.
The GRPO adapter is runs/demo/adapter/ (plain peft: `PeftModel.from_pretrained(base, "runs/demo/adapter")`).
Usage: python -m grpo_rag.demo.real [--config configs/smollm2.yaml] [--sft-steps 60] [--grpo-steps 160]
       [--seed N] [--out runs/demo-seedN]   (another training seed, scored on the same held-out questions)
       [--closed-book-after]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from grpo_rag.demo.quickstart import step  # runs one CLI step and times it, as the tiny demo does
from grpo_rag.evaluation.paired import paired_difference, question_scores
from grpo_rag.sections import load_config

MODEL = "smollm2-135m-instruct"
# The warm start is the demo's own setting (not a config section): enough supervised steps to teach the
# answer format and brevity, few enough that GRPO has room to add (docs/experiments).
SFT_STEPS, SFT_LR, SFT_BATCH = 60, 3e-4, 8


def row(m: dict[str, Any]) -> dict[str, Any]:
    """The figures the summary keeps of one evaluation (lenient EM/F1 are the headline ones)."""
    return {
        "exact_match": m["lenient_exact_match"],
        "f1": m["lenient_f1"],
        "strict_exact_match": m["exact_match"],
        "strict_f1": m["f1"],
        "well_formed": m["well_formed"],
        "recall_at_k": m["recall_at_k"],
        "n": m["n"],
        "per_domain": {
            d: {"exact_match": v["lenient_exact_match"], "f1": v["lenient_f1"], "n": v["n"]}
            for d, v in m["per_domain"].items()
        },
        "label_domains": sorted(m.get("label_questions") or {}),  # domains of yes/no-style questions
    }


def span_exact_match(r: dict[str, Any]) -> float | None:
    """Lenient EM over the domains whose answers are spans, not yes/no labels (weighted by questions).

    A constant "yes" can move a yes/no domain by ten points either way; this figure shows what is left.
    """
    span = [v for d, v in r["per_domain"].items() if d not in r.get("label_domains", [])]
    n = sum(v["n"] for v in span)
    return round(sum(v["exact_match"] * v["n"] for v in span) / n, 4) if n else None


def gain_intervals(trained: Path, warm: Path, base: Path) -> dict[str, dict[str, Any]]:
    """Paired differences (lenient EM and F1) of the trained adapter over the warm start and the prompted model.

    Each with its 95% bootstrap interval over the held-out questions, so a reader can tell a gain from the
    few answers that flip between any two runs.
    """
    a, out = question_scores(trained, lenient=True), {}
    for name, folder in (("over_warm_start", warm), ("over_baseline", base)):
        b = question_scores(folder, lenient=True)
        for metric in ("exact_match", "f1"):
            d = paired_difference(a, b, metric)
            if d is not None:  # rounded for the summary file
                d["difference"] = round(d["difference"], 4)
                if d["ci95"] is not None:
                    d["ci95"] = [round(x, 4) for x in d["ci95"]]
                out[f"{metric}_{name}"] = d
    return out


def _points(d: dict[str, Any]) -> str:
    """ "[+2.1, +8.0]" (points) for a paired difference's interval."""
    lo, hi = d["ci95"]
    return f"[{lo * 100:+.1f}, {hi * 100:+.1f}]"


def table(rows: dict[str, dict[str, Any]]) -> str:
    """Rows: model x context; columns: lenient EM / F1 overall, strict EM, then lenient EM per domain."""
    domains = sorted(next(iter(rows.values()))["per_domain"])
    head = ["model", "passages", "EM", "F1", "strict EM", *[f"EM {d}" for d in domains]]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for label, r in rows.items():
        model, ctx = label.split(" / ")
        cells = [model, ctx, f"{r['exact_match']:.3f}", f"{r['f1']:.3f}", f"{r['strict_exact_match']:.3f}"]
        cells += [f"{r['per_domain'][d]['exact_match']:.3f}" for d in domains]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/smollm2.yaml")
    parser.add_argument("--sft-steps", type=int, default=SFT_STEPS)
    parser.add_argument("--grpo-steps", type=int, help="default: the config's training.max_steps")
    parser.add_argument(
        "--seed", type=int, help="training.seed of the warm start and GRPO (default: the config's)"
    )
    parser.add_argument("--out", help="run folder (default: the config's training.output_dir)")
    parser.add_argument(
        "--closed-book-after",
        action="store_true",
        help="also score the trained adapter without passages (one more evaluation, about a minute)",
    )
    args = parser.parse_args(argv)
    overrides = [f"training.seed={args.seed}"] if args.seed is not None else []
    overrides += [f"training.output_dir={args.out}"] if args.out else []
    cfg = load_config(args.config, overrides)
    run = cfg.output_dir
    warm = run / "warm-start"
    c = args.config
    grpo = [*overrides, f"lora.init_adapter={warm / 'adapter'}"]
    grpo += [f"training.max_steps={args.grpo_steps}"] if args.grpo_steps else []
    timings: dict[str, float] = {}
    total = time.time()
    if not Path(cfg.model.name_or_path, "config.json").is_file():
        step("model", ["model", "install", MODEL], timings)
    step("index", ["index", "--corpus", cfg.data.corpus, "--out", str(cfg.retrieval.index_dir)], timings)
    evals = {
        "base / BM25": ("eval base", [c, "--out", str(run / "eval-base")]),
        "base / closed-book": (
            "eval base closed-book",
            [c, "--closed-book", "--out", str(run / "eval-base-closed")],
        ),
        "base / gold passages": ("eval base oracle", [c, "--oracle", "--out", str(run / "eval-base-oracle")]),
    }
    for name, argv_ in evals.values():
        step(name, ["eval", *argv_], timings)
    sft = ["sft", c, *overrides, "--out", str(warm), "--overwrite", "--steps", str(args.sft_steps)]
    step("warm start", [*sft, "--learning-rate", str(SFT_LR), "--batch-size", str(SFT_BATCH)], timings)
    step("eval warm start", ["eval", c, "--checkpoint", str(warm), "--out", str(warm / "eval")], timings)
    step("train", ["train", c, "--overwrite", *grpo], timings)
    step("eval", ["eval", c, "--checkpoint", str(run), "--out", str(run / "eval")], timings)
    if args.closed_book_after:
        step(
            "eval closed-book",
            ["eval", c, "--checkpoint", str(run), "--closed-book", "--out", str(run / "eval-closed")],
            timings,
        )
    timings["total"] = round(time.time() - total, 1)

    folders = {
        "base / BM25": run / "eval-base",
        "base / closed-book": run / "eval-base-closed",
        "base / gold passages": run / "eval-base-oracle",
        "warm start / BM25": warm / "eval",
        "GRPO + LoRA / BM25": run / "eval",
    }
    if args.closed_book_after:
        folders["GRPO + LoRA / closed-book"] = run / "eval-closed"
    rows = {k: row(json.loads((v / "metrics.json").read_text())) for k, v in folders.items()}
    text = table(rows)
    base, warm_row, trained = rows["base / BM25"], rows["warm start / BM25"], rows["GRPO + LoRA / BM25"]
    gains = {
        "exact_match": round(trained["exact_match"] - base["exact_match"], 4),
        "f1": round(trained["f1"] - base["f1"], 4),
        "exact_match_over_warm_start": round(trained["exact_match"] - warm_row["exact_match"], 4),
    }
    intervals = gain_intervals(run / "eval", warm / "eval", run / "eval-base")
    span_trained, span_warm = span_exact_match(trained), span_exact_match(warm_row)
    if span_trained is not None and span_warm is not None and trained["label_domains"]:
        gains["span_exact_match_over_warm_start"] = round(span_trained - span_warm, 4)
    summary = {
        "config": c,
        "overrides": overrides,
        "model": cfg.model.name_or_path,
        "heldout_questions": trained["n"],
        "timings_s": timings,
        "gains": gains,
        "gain_intervals": intervals,
        "metrics": {"baseline": base, "warm_start": warm_row, "grpo": trained, "all_rows": rows},
        "adapter": str(run / "adapter"),
    }
    (run / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run / "demo_report.md").write_text(text + "\n")
    print(
        f"\n{text}\n\nEM and F1 read untagged answers too (lenient); strict EM needs <answer> tags.\n"
        f"GRPO + LoRA vs the prompted base model: EM {gains['exact_match'] * 100:+.1f}, F1 {gains['f1'] * 100:+.1f} "
        f"points; vs the warm start: EM {gains['exact_match_over_warm_start'] * 100:+.1f}"
        + (
            f" ({gains['span_exact_match_over_warm_start'] * 100:+.1f} on the domains without yes/no questions)"
            if "span_exact_match_over_warm_start" in gains
            else ""
        )
        + f", 95% interval {_points(intervals['exact_match_over_warm_start'])} ("
        f"{intervals['exact_match_over_warm_start']['changed']} of {trained['n']} answers changed). "
        f"Total {timings['total'] / 60:.1f} min. Summary: {run / 'demo_summary.json'}"
    )
    from grpo_rag.reporting.commands import report_run  # plots + run_report.md of the run folder

    print(f"Run report (config, adapter, time, every eval, plots): {report_run(run)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
