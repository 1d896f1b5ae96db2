"""Measure domain routing on the real data: routing accuracy and recall@1/5/10 per domain, pooled vs routed.

The naive Bayes router is fitted on the training questions (+ corpus passages) and scored on held-out;
the BM25 router needs no training. Each router is run with the given top-m / threshold settings.
Writes a markdown table (and JSON) to --out. Usage (from the repo root):
    python -m grpo_rag.studies.routing_study --data data/real --out runs/multidomain/routing
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.retrieval.bm25 import BM25Retriever, Hit
from grpo_rag.retrieval.routing import BM25Router, Route, fit_router, route, routed_retrieve

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there

KS = (1, 5, 10)


def recall_at(hits: list[list[Hit]], gold: list[list[str]], k: int) -> float:
    """Share of questions with a gold passage among their first k hits."""
    return sum(bool({h.id for h in hs[:k]} & set(g)) for hs, g in zip(hits, gold, strict=True)) / max(
        len(gold), 1
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data/real")
    parser.add_argument("--out", type=Path, default=REPO / "runs/multidomain/routing")
    parser.add_argument(
        "--settings",
        default="1:0.0,1:0.9,1:0.99,2:0.0,2:0.99",
        help="comma-separated top_m:threshold pairs tried for each router",
    )
    parser.add_argument("--scoring", default="pooled", choices=("pooled", "domain"))
    args = parser.parse_args(argv)

    corpus = load_corpus(args.data / "corpus.jsonl")
    ids = set(corpus["id"])
    train = load_qa(args.data / "train.jsonl", ids)
    held = load_qa(args.data / "heldout.jsonl", ids)
    retriever = BM25Retriever.build(corpus)
    questions, gold, domains = held["question"], held["gold_ids"], held["domain"]
    start = time.perf_counter()
    nb = fit_router(train, corpus)
    fit_s = time.perf_counter() - start
    nb.save(args.out / "nb-router.npz")
    routers = {"bm25": BM25Router(retriever), "naive_bayes": nb}

    kmax = max(KS)
    rows: dict[str, dict[str, object]] = {}
    pooled = retriever.retrieve(questions, kmax)
    rows["pooled"] = {"hits": pooled, "routes": None, "seconds": None}
    oracle = retriever.retrieve(questions, kmax, domains=[[d] for d in domains], scoring=args.scoring)
    rows["oracle domain"] = {"hits": oracle, "routes": None, "seconds": None}
    for name, router in routers.items():
        for setting in args.settings.split(","):
            m, thr = setting.split(":")
            start = time.perf_counter()
            routes: list[Route] = route(router, questions, top_m=int(m), threshold=float(thr))
            hits = routed_retrieve(retriever, questions, routes, kmax, scoring=args.scoring)
            rows[f"{name} m={m} thr={thr}"] = {
                "hits": hits,
                "routes": routes,
                "seconds": time.perf_counter() - start,
            }

    result: dict[str, object] = {
        "n": len(questions),
        "naive_bayes_fit_seconds": round(fit_s, 3),
        "scoring": args.scoring,
        "rows": {},
    }
    lines = [
        f"# Routing on {args.data} held-out ({len(questions)} questions, scoring={args.scoring})",
        "",
        "| retrieval | domain | n | routing acc | fallback | R@1 | R@5 | R@10 |",
        "|---" * 8 + "|",
    ]
    names = sorted(set(domains))
    for label, row in rows.items():
        per: dict[str, dict[str, float]] = {}
        for dom in [*names, "all"]:
            idx = [i for i, d in enumerate(domains) if dom in ("all", d)]
            hs = [row["hits"][i] for i in idx]  # type: ignore[index]
            gs = [gold[i] for i in idx]
            cell: dict[str, float] = {f"R@{k}": round(recall_at(hs, gs, k), 4) for k in KS}
            routes = row["routes"]
            if routes is not None:
                cell["routing_acc"] = round(sum(routes[i].top == domains[i] for i in idx) / len(idx), 4)
                cell["fallback"] = round(sum(routes[i].domains is None for i in idx) / len(idx), 4)
            per[dom] = cell
            acc = f"{cell['routing_acc']:.3f}" if "routing_acc" in cell else "-"
            fb = f"{cell['fallback']:.3f}" if "fallback" in cell else "-"
            lines.append(
                f"| {label} | {dom} | {len(idx)} | {acc} | {fb} | "
                + " | ".join(f"{cell[f'R@{k}']:.3f}" for k in KS)
                + " |"
            )
        if row["seconds"] is not None:
            per["all"]["seconds"] = round(float(row["seconds"]), 3)  # type: ignore[arg-type]
        result["rows"][label] = per  # type: ignore[index]
    # The requirement: a routed setting must not lose recall@k on any domain against pooled.
    base = result["rows"]["pooled"]  # type: ignore[index]
    lines += ["", "Routed settings with no per-domain recall loss vs pooled at k=1,5,10:"]
    for label, per in result["rows"].items():  # type: ignore[union-attr]
        if label in ("pooled", "oracle domain"):
            continue
        ok = all(per[d][f"R@{k}"] >= base[d][f"R@{k}"] for d in names for k in KS)
        per["all"]["no_loss"] = ok
        lines.append(f"- {label}: {'yes' if ok else 'NO'}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "routing.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (args.out / "routing.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
