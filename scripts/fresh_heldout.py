"""Write held-out questions that a config's evaluation never scored: a second, untouched test set.

The recipe's choices (training set, step count) were made on the 300 questions `grpo-rag eval` draws from
`data.eval`. Re-scoring the same checkpoints on questions drawn after those (the same balanced, seeded draw,
continued) says whether the gains hold on questions no choice looked at.

Usage: python scripts/fresh_heldout.py CONFIG PER_DOMAIN OUT.jsonl [SKIP]
  e.g. python scripts/fresh_heldout.py configs/smollm2.yaml 120 runs/heldout-fresh.jsonl
       python scripts/fresh_heldout.py configs/smollm2.yaml 58 runs/heldout-third.jsonl 120
  SKIP (per domain, default 0) passes over questions an earlier fresh set took, for a third set after it.
then:  grpo-rag eval CONFIG data.eval=OUT.jsonl data.max_eval_samples=null --checkpoint RUN --out RUN/eval-fresh
"""

from __future__ import annotations

import sys

from grpo_rag.config.loader import load_config
from grpo_rag.data.io import load_corpus, load_qa, write_jsonl
from grpo_rag.pipeline.selection import select_questions


def fresh_questions(config: str, per_domain: int, skip: int = 0) -> list[dict]:
    """The next `per_domain` questions of each domain in the config's eval draw, after the ones it scores
    and `skip` more per domain."""
    cfg = load_config(config)
    if not cfg.data.balance_domains or cfg.data.max_eval_samples is None:
        raise SystemExit(
            f"{config}: needs data.balance_domains and data.max_eval_samples (a per-domain draw)"
        )
    qa = load_qa(cfg.data.eval, corpus_ids=set(load_corpus(cfg.data.corpus)["id"]))
    domains = sorted(cfg.data.domains or set(qa["domain"]))  # the draw keeps only data.domains, when set
    used = cfg.data.max_eval_samples + skip * len(domains)

    def draw(limit: int) -> list[dict]:
        return list(select_questions(qa, cfg.data.domains, limit, True, cfg.data.sample_seed, cfg.data.eval))

    scored = {q["id"] for q in draw(used)}
    fresh = [q for q in draw(used + per_domain * len(domains)) if q["id"] not in scored]
    counts = {d: sum(q["domain"] == d for q in fresh) for d in domains}
    short = {d: n for d, n in counts.items() if n < per_domain}
    if short:
        raise SystemExit(
            f"{cfg.data.eval}: too few questions left after the first {used} of the draw: {short}"
        )
    return fresh


if __name__ == "__main__":
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    rows = fresh_questions(sys.argv[1], int(sys.argv[2]), int(sys.argv[4]) if len(sys.argv) == 5 else 0)
    write_jsonl(sys.argv[3], rows)
    print(f"{len(rows)} questions -> {sys.argv[3]}")
