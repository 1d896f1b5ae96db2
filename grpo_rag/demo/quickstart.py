"""The offline demo behind `make demo`: bootstrap -> index -> eval warm start -> GRPO+LoRA -> eval.

Every step goes through the `grpo-rag` CLI, so the demo exercises exactly what users run. Prints a
before/after table and writes `runs/quickstart/demo_summary.json` with the step timings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

from grpo_rag.cli import main as cli
from grpo_rag.sections import load_config


def step(name: str, argv: list[str], timings: dict[str, float]) -> None:
    print(f"\n=== {name}: grpo-rag {' '.join(argv)}", flush=True)
    start = time.time()
    if cli(argv) != 0:
        sys.exit(f"demo step '{name}' failed")
    timings[name] = round(time.time() - start, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", default="configs/quickstart.yaml")
    parser.add_argument("--rebuild-model", action="store_true", help="bootstrap even if the model exists")
    args = parser.parse_args()
    torch.set_num_threads(max(1, torch.get_num_threads()))
    cfg = load_config(args.config)
    run = cfg.output_dir
    model = Path(cfg.model.name_or_path)
    timings: dict[str, float] = {}
    total = time.time()
    if args.rebuild_model or not (model / "config.json").is_file():
        step("bootstrap", ["bootstrap", args.config, "--force"], timings)
    else:
        print(f"using the existing embedded model in {model} (--rebuild-model to rebuild it)")
    if cfg.retrieval.index_dir:
        step("index", ["index", "--corpus", cfg.data.corpus, "--out", cfg.retrieval.index_dir], timings)
    c = [args.config]
    step("eval warm start", ["eval", *c, "--out", str(run / "eval-warmstart")], timings)
    step(
        "eval warm start closed-book",
        ["eval", *c, "--closed-book", "--out", str(run / "eval-warmstart-closed-book")],
        timings,
    )
    step("train", ["train", args.config, "--overwrite"], timings)
    step("eval", ["eval", *c, "--checkpoint", str(run), "--out", str(run / "eval")], timings)
    step(
        "eval closed-book",
        ["eval", *c, "--checkpoint", str(run), "--closed-book", "--out", str(run / "eval-closed-book")],
        timings,
    )
    timings["total"] = round(time.time() - total, 1)

    rows = {
        name: json.loads((run / name / "metrics.json").read_text())
        for name in ("eval-warmstart", "eval-warmstart-closed-book", "eval", "eval-closed-book")
    }
    keys = ("exact_match", "f1", "grounded", "citation_precision", "recall_at_k")
    lines = ["| model | context | " + " | ".join(keys) + " |", "|---" * (len(keys) + 2) + "|"]
    for name, m in rows.items():
        label = "warm start" if "warmstart" in name else "GRPO + LoRA"
        ctx = "closed-book" if "closed" in name else f"BM25 top-{m['k']}"
        lines.append(
            f"| {label} | {ctx} | " + " | ".join("-" if m[k] is None else f"{m[k]:.3f}" for k in keys) + " |"
        )
    table = "\n".join(lines)
    gain = rows["eval"]["exact_match"] - rows["eval-warmstart"]["exact_match"]
    summary = {
        "timings_s": timings,
        "heldout_questions": rows["eval"]["n"],
        "exact_match_gain": round(gain, 4),
        "cpu_threads": torch.get_num_threads(),
        "metrics": {k: {m: v[m] for m in keys} for k, v in rows.items()},
    }
    (run / "demo_summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    (run / "demo_report.md").write_text(table + "\n")
    print(
        f"\n{table}\n\nopen-book exact match gain from GRPO: {gain * 100:+.1f} points; "
        f"total {timings['total'] / 60:.1f} min ({json.dumps(timings)})"
    )


if __name__ == "__main__":
    main()
