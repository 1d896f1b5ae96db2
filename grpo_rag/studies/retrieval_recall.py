"""Measure BM25 on the converted real data: build time, query throughput, top-k gold recall per domain.

Recall@k counts a question as found when any of its gold passages is among the top k hits. Questions
are drawn from held-out first, then train, up to --per-domain per domain, all domains in one index.
Usage (from the repo root): python -m grpo_rag.studies.retrieval_recall --data data/real
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.retrieval.bm25 import BM25Retriever, Hit

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there

PUBLISHED = {"wikipedia": 0.91, "reddit": 0.60, "amazon": 0.49, "pubmedqa": 0.98, "tatqa": 0.84}


def recall(hits: list[list[Hit]], gold: list[list[str]]) -> float:
    """Share of questions with at least one gold passage among their hits."""
    return sum(bool({h.id for h in hs} & set(g)) for hs, g in zip(hits, gold, strict=True)) / max(
        len(gold), 1
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO / "data/real")
    parser.add_argument("--per-domain", type=int, default=300)
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)

    corpus = load_corpus(args.data / "corpus.jsonl")
    ids = set(corpus["id"])
    rows = list(load_qa(args.data / "heldout.jsonl", ids)) + list(load_qa(args.data / "train.jsonl", ids))
    start = time.perf_counter()
    retriever = BM25Retriever.build(corpus)
    build_s = time.perf_counter() - start
    print(
        f"corpus: {len(retriever)} passages, domains {retriever.domains}; build (pooled + per domain) {build_s:.2f} s"
    )

    by_domain: dict[str, list[dict]] = {}
    for row in rows:
        chosen = by_domain.setdefault(row["domain"], [])
        if len(chosen) < args.per_domain:
            chosen.append(row)
    questions = [r for d in retriever.domains for r in by_domain.get(d, [])]
    queries = [r["question"] for r in questions]

    start = time.perf_counter()
    pooled = retriever.retrieve(queries, args.k)
    pooled_s = time.perf_counter() - start
    start = time.perf_counter()
    own = retriever.retrieve(queries, args.k, domains=[[r["domain"]] for r in questions])
    own_s = time.perf_counter() - start
    print(f"throughput: pooled {len(queries) / pooled_s:.0f} q/s, own-domain {len(queries) / own_s:.0f} q/s")

    print(f"{'domain':<10} {'n':>4} {'pooled R@' + str(args.k):>12} {'own-domain':>11} {'published':>10}")
    for domain in retriever.domains:
        idx = [i for i, r in enumerate(questions) if r["domain"] == domain]
        gold = [questions[i]["gold_ids"] for i in idx]
        r_pool = recall([pooled[i] for i in idx], gold)
        r_own = recall([own[i] for i in idx], gold)
        published = PUBLISHED.get(domain)
        shown = f"{published:.2f}" if published is not None else "-"
        print(f"{domain:<10} {len(idx):>4} {r_pool:>12.3f} {r_own:>11.3f} {shown:>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
