"""The main demo behind `make demo`: SmolLM2-135M-Instruct on the real held-out QA, before and after training.

Steps, each through the `grpo-rag` CLI so the demo runs exactly what users run:
install the model (once) -> index data/real -> evaluate the prompted base model (BM25, closed-book, oracle
passages) -> GRPO + LoRA from the prompted model -> evaluate (`--closed-book-after`: also without passages) ->
print the per-domain before/after table. `--sft-steps 60` puts a supervised format warm start (LoRA, scored as
its own row) before GRPO, which then continues that adapter: a higher final score, of which GRPO adds less.
Writes runs/demo/demo_summary.json (the contract checks read: config, heldout_questions, timings_s.total,
metrics.{baseline,warm_start,grpo}.{exact_match,f1,strict_exact_match}, warm_start only when there is one;
exact_match and f1 are the lenient figures; also `gain_intervals`, GRPO's paired gains with 95% bootstrap
intervals) and runs/demo/demo_report.md.
The GRPO adapter is runs/demo/adapter/ (plain peft: `PeftModel.from_pretrained(base, "runs/demo/adapter")`).
Usage: python -m grpo_rag.demo.real [--config configs/smollm2.yaml] [--sft-steps 0] [--grpo-steps 160]
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
# The warm start is the demo's own setting (not a config section). By default there is none: the pre-filled
# answer tag and the lenient rewards give GRPO a signal from the prompted model, so every point it gains is
# GRPO's. With --sft-steps 60 (the warm start's learning rate and batch below) the final score is higher and
# GRPO's own share smaller (docs/real-model.md).
SFT_STEPS, SFT_LR, SFT_BATCH = 0, 3e-4, 8


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


def gain_intervals(trained: Path, base: Path, warm: Path | None = None) -> dict[str, dict[str, Any]]:
    """Paired differences (lenient EM and F1) of the trained adapter over the prompted model (and the warm start).

    Each with its 95% bootstrap interval over the held-out questions, so a reader can tell a gain from the
    few answers that flip between any two runs.
    """
    a, out = question_scores(trained, lenient=True), {}
    pairs = [("over_baseline", base)] + ([("over_warm_start", warm)] if warm is not None else [])
    for name, folder in pairs:
        b = question_scores(folder, lenient=True)
        for metric in ("exact_match", "f1"):
            d = paired_difference(a, b, metric)
            if d is not None:  # rounded for the summary file
                d["difference"] = round(d["difference"], 4)
                if d["ci95"] is not None:
                    d["ci95"] = [round(x, 4) for x in d["ci95"]]
                out[f"{metric}_{name}"] = d
    return out


def gains_of(base: dict[str, Any], trained: dict[str, Any], warm: dict[str, Any] | None) -> dict[str, float]:
    """Lenient EM / F1 gains of the trained adapter over the prompted model, and over the warm start if any."""
    gains = {
        "exact_match": round(trained["exact_match"] - base["exact_match"], 4),
        "f1": round(trained["f1"] - base["f1"], 4),
    }
    if warm is not None:
        gains["exact_match_over_warm_start"] = round(trained["exact_match"] - warm["exact_match"], 4)
        span_trained, span_warm = span_exact_match(trained), span_exact_match(warm)
        if span_trained is not None and span_warm is not None and trained["label_domains"]:
            gains["span_exact_match_over_warm_start"] = round(span_trained - span_warm, 4)
    return gains


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
    parser.add_argument(
        "--sft-steps",
        type=int,
        default=SFT_STEPS,
        help=f"supervised warm-start steps before GRPO, e.g. 60; 0: GRPO from the prompted model (default {SFT_STEPS})",
    )
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
    if args.sft_steps < 0:
        parser.error(f"--sft-steps must be 0 (no warm start) or more, got {args.sft_steps}")
    overrides = [f"training.seed={args.seed}"] if args.seed is not None else []
    overrides += [f"training.output_dir={args.out}"] if args.out else []
    cfg = load_config(args.config, overrides)
    run = cfg.output_dir
    warm = run / "warm-start" if args.sft_steps else None
    c = args.config
    grpo = [*overrides] + ([f"lora.init_adapter={warm / 'adapter'}"] if warm else [])
    grpo += [f"training.max_steps={args.grpo_steps}"] if args.grpo_steps else []
    timings: dict[str, float] = {}
    total = time.time()
    if not Path(cfg.model.name_or_path, "config.json").is_file():
        step("model", ["model", "install", MODEL], timings)
    step("index", ["index", "--corpus", cfg.data.corpus, "--out", str(cfg.retrieval.index_dir)], timings)
    folders = {
        "base / BM25": run / "eval-base",
        "base / closed-book": run / "eval-base-closed",
        "base / gold passages": run / "eval-base-oracle",
    }
    step("eval base", ["eval", c, "--out", str(folders["base / BM25"])], timings)
    step(
        "eval base closed-book",
        ["eval", c, "--closed-book", "--out", str(folders["base / closed-book"])],
        timings,
    )
    step("eval base oracle", ["eval", c, "--oracle", "--out", str(folders["base / gold passages"])], timings)
    if warm:
        sft = ["sft", c, *overrides, "--out", str(warm), "--overwrite", "--steps", str(args.sft_steps)]
        step("warm start", [*sft, "--learning-rate", str(SFT_LR), "--batch-size", str(SFT_BATCH)], timings)
        step("eval warm start", ["eval", c, "--checkpoint", str(warm), "--out", str(warm / "eval")], timings)
        folders["warm start / BM25"] = warm / "eval"
    step("train", ["train", c, "--overwrite", *grpo], timings)
    step("eval", ["eval", c, "--checkpoint", str(run), "--out", str(run / "eval")], timings)
    folders["GRPO + LoRA / BM25"] = run / "eval"
    if args.closed_book_after:
        step(
            "eval closed-book",
            ["eval", c, "--checkpoint", str(run), "--closed-book", "--out", str(run / "eval-closed")],
            timings,
        )
        folders["GRPO + LoRA / closed-book"] = run / "eval-closed"
    timings["total"] = round(time.time() - total, 1)

    rows = {k: row(json.loads((v / "metrics.json").read_text())) for k, v in folders.items()}
    text = table(rows)
    base, trained = rows["base / BM25"], rows["GRPO + LoRA / BM25"]
    warm_row = rows.get("warm start / BM25")
    gains = gains_of(base, trained, warm_row)
    intervals = gain_intervals(run / "eval", run / "eval-base", warm / "eval" if warm else None)
    metrics = {"baseline": base, "grpo": trained, "all_rows": rows}
    if warm_row is not None:
        metrics["warm_start"] = warm_row
    summary = {
        "config": c,
        "overrides": overrides,
        "model": cfg.model.name_or_path,
        "heldout_questions": trained["n"],
        "warm_start_steps": args.sft_steps,
        "timings_s": timings,
        "gains": gains,
        "gain_intervals": intervals,
        "metrics": metrics,
        "adapter": str(run / "adapter"),
    }
    (run / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run / "demo_report.md").write_text(text + "\n")
    print(f"\n{text}\n\nEM and F1 read untagged answers too (lenient); strict EM needs <answer> tags.")
    print(verdict(gains, intervals, trained["n"], warm is not None))
    print(f"Total {timings['total'] / 60:.1f} min. Summary: {run / 'demo_summary.json'}")
    from grpo_rag.reporting.commands import report_run  # plots + run_report.md of the run folder

    print(f"Run report (config, adapter, time, every eval, plots): {report_run(run)}")
    return 0


def verdict(gains: dict[str, float], intervals: dict[str, dict[str, Any]], n: int, warm: bool) -> str:
    """One line: GRPO's gains over the prompted model, and over the warm start when there is one."""
    key = "exact_match_over_warm_start" if warm else "exact_match_over_baseline"
    d = intervals[key]
    text = (
        f"GRPO + LoRA vs the prompted base model: EM {gains['exact_match'] * 100:+.1f}, "
        f"F1 {gains['f1'] * 100:+.1f} points"
    )
    if warm:
        text += f"; vs the warm start: EM {gains['exact_match_over_warm_start'] * 100:+.1f}"
        if "span_exact_match_over_warm_start" in gains:
            span = gains["span_exact_match_over_warm_start"] * 100
            text += f" ({span:+.1f} on the domains without yes/no questions)"
    else:
        text += " (no warm start: all of it is GRPO's)"
    return text + f", 95% interval {_points(d)} ({d['changed']} of {n} answers changed)."


if __name__ == "__main__":
    raise SystemExit(main())
