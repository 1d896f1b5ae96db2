"""The multi-domain study: router, shared adapter vs per-domain experts, cross-domain matrix, memory.

Needs the embedded model (`grpo-rag bootstrap configs/multidomain.yaml`). Trains the naive Bayes router
and the adapters that are missing (shared + one per domain, via `grpo_rag.experts.train_experts`), then
evaluates on the held-out questions with all adapters loaded on one base model and writes
`RUN/report.md`, `RUN/report.json` and `RUN/cross_domain_f1.png`. Usage (from the repo root):
    python -m grpo_rag.studies.multidomain --config configs/multidomain.yaml
With a real model, every adapter can continue one warm start (`lora.init_adapter=...`), and
`--expert-steps` gives the experts together the shared adapter's number of steps:
    python -m grpo_rag.studies.multidomain --config configs/smollm2.yaml --expert-steps 6 --lenient \
        training.output_dir=runs/experts-real/experts/shared lora.init_adapter=runs/demo/warm-start/adapter
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from grpo_rag.evaluation.evaluate import eval_prompts
from grpo_rag.retrieval.routing import train_router
from grpo_rag.sections import load_config
from grpo_rag.studies.experts import (
    BASE,
    SHARED,
    assign_adapters,
    evaluate_with_adapters,
    expert_config,
    load_experts,
    memory_report,
)
from grpo_rag.training.grpo import train

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there

METRICS = ("exact_match", "f1", "grounded")


def heatmap(
    matrix: dict[str, dict[str, float]], rows: list[str], cols: list[str], path: Path, title: str
) -> None:
    """PNG heat-map of adapter (rows) x evaluation domain (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    values = np.array([[matrix[r][c] or 0.0 for c in cols] for r in rows])
    fig, ax = plt.subplots(figsize=(1.4 * len(cols) + 2, 0.7 * len(rows) + 1.5))
    im = ax.imshow(values, cmap="viridis")
    ax.set_xticks(range(len(cols)), cols, rotation=30, ha="right")
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("evaluated on domain")
    ax.set_ylabel("adapter trained on")
    for i in range(len(rows)):
        for j in range(len(cols)):
            ax.text(j, i, f"{values[i, j]:.3f}", ha="center", va="center", color="w", fontsize=8)
    ax.set_title(title)
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(title: str, rows: dict[str, dict], domains: list[str]) -> list[str]:
    """Markdown: one line per setting, EM / F1 / grounded per domain and overall."""
    head = "| setting | " + " | ".join(f"{d} EM / F1 / gr" for d in [*domains, "all"]) + " |"
    lines = [f"### {title}", "", head, "|---" * (len(domains) + 2) + "|"]
    for name, m in rows.items():
        cells = []
        for d in [*domains, "all"]:
            src = m if d == "all" else m["per_domain"].get(d, {})
            cells.append(" / ".join("-" if src.get(k) is None else f"{src[k]:.3f}" for k in METRICS))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines + [""]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs/multidomain.yaml"))
    parser.add_argument("--run", type=Path, default=None, help="study dir (default: experts dir's parent)")
    parser.add_argument(
        "--limit", type=int, default=None, help="held-out questions (default data.max_eval_samples)"
    )
    parser.add_argument(
        "--expert-steps",
        type=int,
        help="GRPO steps of each domain expert (default: training.max_steps, as the shared adapter); "
        "training.max_steps / number of domains matches the experts' total to the shared adapter's",
    )
    parser.add_argument(
        "--lenient",
        action="store_true",
        help="EM / F1 also read untagged answers (for a prompted base model)",
    )
    parser.add_argument("overrides", nargs="*", metavar="section.key=value")
    args = parser.parse_args(argv)

    cfg = load_config(args.config, args.overrides)
    experts_dir = cfg.output_dir.parent
    run = args.run or experts_dir.parent
    run.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}

    start = time.time()
    router_path = run / "nb-router.npz"
    router_info = train_router(cfg.data.train, cfg.data.corpus, router_path)
    timings["router_fit_s"] = round(time.time() - start, 2)

    from grpo_rag.data.io import load_qa

    domains = sorted(set(load_qa(cfg.data.eval)["domain"]))
    train_summaries = {}
    for name in [SHARED, *domains]:
        sub = expert_config(cfg, experts_dir, name)
        if name != SHARED and args.expert_steps:
            sub.training = {**sub.training, "max_steps": args.expert_steps}
        summary_file = sub.output_dir / "train_summary.json"
        if summary_file.is_file():  # already trained by an earlier run of this script
            train_summaries[name] = json.loads(summary_file.read_text())
            continue
        train_summaries[name] = train(sub, overwrite=True)

    model, tok, names = load_experts(cfg, experts_dir)
    memory = memory_report(model, names)
    # The held-out prompts exactly as `grpo-rag eval` builds them (prefill, prompt budget), pooled and routed.
    pooled, _ = eval_prompts(cfg, tok, limit=args.limit)
    cfg.routing.router = str(router_path)
    routed, _ = eval_prompts(cfg, tok, limit=args.limit)

    results: dict[str, dict] = {}
    start = time.time()
    for name in names:  # cross-domain matrix: adapter `name` on every domain (pooled retrieval)
        results[f"adapter:{name}"] = evaluate_with_adapters(
            cfg,
            model,
            tok,
            pooled,
            assign_adapters(pooled, name, names),
            run / "eval" / f"adapter-{name}",
            f"adapter {name} on all domains (pooled BM25)",
        )
    results["experts:oracle"] = evaluate_with_adapters(
        cfg,
        model,
        tok,
        pooled,
        assign_adapters(pooled, "oracle", names),
        run / "eval" / "experts-oracle",
        "experts, gold domain picks the adapter (pooled BM25)",
    )
    results["shared:routed"] = evaluate_with_adapters(
        cfg,
        model,
        tok,
        routed,
        assign_adapters(routed, SHARED, names),
        run / "eval" / "shared-routed",
        "shared adapter, routed BM25",
    )
    results["experts:router"] = evaluate_with_adapters(
        cfg,
        model,
        tok,
        routed,
        assign_adapters(routed, "router", names),
        run / "eval" / "experts-router",
        "experts, naive Bayes router picks adapter and retrieval domains",
    )
    results["base"] = evaluate_with_adapters(
        cfg,
        model,
        tok,
        pooled,
        assign_adapters(pooled, BASE, names),
        run / "eval" / "base",
        "base model (adapters off, pooled BM25)",
    )
    timings["evaluation_s"] = round(time.time() - start, 2)
    if args.lenient:  # the report's EM / F1 become the lenient figures (untagged answers read too)
        for m in results.values():
            for row in [m, *m["per_domain"].values()]:
                row["exact_match"], row["f1"] = row["lenient_exact_match"], row["lenient_f1"]
    routing_acc = sum(a == b for a, b in zip(routed["routed_top"], routed["domain"], strict=True)) / len(
        routed
    )

    matrix = {n: {d: results[f"adapter:{n}"]["per_domain"][d]["f1"] for d in domains} for n in names}
    heatmap(
        matrix, names, domains, run / "cross_domain_f1.png", "held-out F1: adapter (rows) on domain (cols)"
    )
    lines = [
        f"# Multi-domain study ({cfg.source}; {len(pooled)} held-out questions, small-model figures)",
        "",
        f"Model {cfg.model.name_or_path}; EM / F1 {'lenient' if args.lenient else 'strict'}; "
        f"LoRA init {cfg.lora.init_adapter or 'none'}; GRPO steps per adapter "
        f"{ {n: s['steps'] for n, s in train_summaries.items()} }; router {router_path} "
        f"(routing accuracy on these questions {routing_acc:.3f}).",
        "",
    ]
    lines += table(
        "Shared adapter vs experts",
        {
            "base model (no adapter), pooled": results["base"],
            "shared adapter, pooled": results[f"adapter:{SHARED}"],
            "shared adapter, routed retrieval": results["shared:routed"],
            "experts, oracle domain, pooled": results["experts:oracle"],
            "experts + router (adapter and retrieval)": results["experts:router"],
        },
        domains,
    )
    lines += table(
        "Cross-domain matrix (adapter trained on row, evaluated on column)",
        {n: results[f"adapter:{n}"] for n in names},
        domains,
    )
    lines += [
        "### Memory: all adapters on one base model",
        "",
        f"- base parameters (held once): {memory['base_params']:,} ({memory['base_bytes']:,} bytes)",
        *[
            f"- adapter {n}: {v['params']:,} parameters ({v['bytes']:,} bytes)"
            for n, v in memory["adapters"].items()
        ],
        f"- total: {memory['total_bytes']:,} bytes; one model copy per adapter would hold "
        f"{memory['one_model_per_adapter_bytes']:,} bytes",
        "",
        f"Heat-map: {run / 'cross_domain_f1.png'}",
        "",
    ]
    (run / "report.md").write_text("\n".join(lines), encoding="utf-8")
    study = {
        "router": router_info,
        "routing_accuracy": round(routing_acc, 4),
        "memory": memory,
        "train": train_summaries,
        "timings": timings,
        "results": {
            k: {m: v.get(m) for m in ("n", *METRICS, "per_domain", "adapters")} for k, v in results.items()
        },
    }
    (run / "report.json").write_text(json.dumps(study, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
