"""Measure what retrieval alone allows on the two-hop demo questions: one BM25 query with the question versus
the two gold search calls (site's router, then the router model's vendor) that multi-turn rollouts make.

A question counts as covered when all its gold passages are among the passages retrieved. Single-shot uses
the question as the query with top-k; the gold search path runs `SearchEnvironment` with the config's
rollout settings, so the figure is the best a multi-turn model can reach with two calls.
Usage (from the repo root): python -m grpo_rag.studies.twohop_retrieval [--config configs/multiturn.yaml]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.demo.twohop import gold_queries
from grpo_rag.pipeline.prepare import load_retriever
from grpo_rag.rollout.search import SearchEnvironment, search_options
from grpo_rag.sections import load_config

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(REPO / "configs/multiturn.yaml"))
    args = parser.parse_args(argv)
    cfg = load_config(args.config)
    corpus = load_corpus(cfg.data.corpus)
    retriever = load_retriever(cfg, corpus)
    by_id = dict(zip(corpus["id"], corpus["text"], strict=True))
    env = SearchEnvironment(retriever, search_options(cfg))
    report = {}
    for split, path in (("train", cfg.data.train), ("heldout", cfg.data.eval)):
        qa = list(load_qa(path, set(corpus["id"])))
        hits = retriever.retrieve([q["question"] for q in qa], k=cfg.retrieval.k)
        single_all = single_any = searched = 0
        for q, hs in zip(qa, hits, strict=True):
            gold, found = set(q["gold_ids"]), {h.id for h in hs}
            single_all += gold <= found
            single_any += bool(gold & found)
            env.reset(**q)
            for query in gold_queries(q, by_id):
                env.search(query)
            searched += gold <= set(env.passage_ids)
        n = len(qa)
        report[split] = {
            "n": n,
            f"single_top{cfg.retrieval.k}_all_gold": round(single_all / n, 3),
            f"single_top{cfg.retrieval.k}_any_gold": round(single_any / n, 3),
            "gold_searches_all_gold": round(searched / n, 3),
        }
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
