"""`grpo-rag retrieval-report`: BM25 recall@k for several k in one pass, overall and per domain, no generation.

A question counts as found at k when one of its gold passages (`gold_ids`) is in the top k. Questions
without gold ids count by answer presence instead (a top-k passage contains a normalised gold answer, the
FlashRAG convention), and the report says how many questions were scored each way. Unanswerable
questions (no answers, no gold ids) are left out and counted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from datasets import Dataset

from grpo_rag.errors import GrpoRagError
from grpo_rag.retrieval.bm25 import BM25Retriever
from grpo_rag.rewards.scoring import normalize_answer

ALL = "all"


@dataclass(frozen=True)
class ReportOptions:
    """What `retrieval-report` measures."""

    ks: tuple[int, ...] = (1, 5, 10)
    own_domain: bool = False  # search each question's own domain only (default: the pooled index)


def parse_ks(text: str) -> tuple[int, ...]:
    """`--k 1,5,10` -> (1, 5, 10), sorted and positive; a one-line error otherwise."""
    try:
        ks = sorted({int(part) for part in text.split(",") if part.strip()})
    except ValueError:
        raise GrpoRagError(f"--k: expected comma-separated integers such as 1,5,10, got {text!r}") from None
    if not ks or ks[0] < 1:
        raise GrpoRagError(f"--k: expected positive integers such as 1,5,10, got {text!r}")
    return tuple(ks)


def _found_ranks(
    hits: list[Any], gold: Sequence[str], answers: Sequence[str], texts: dict[str, str]
) -> tuple[int | None, str | None]:
    """(1-based rank of the first relevant hit or None, how relevance was judged: ids / answers / None)."""
    if gold:
        wanted = set(gold)
        return next((r for r, h in enumerate(hits, 1) if h.id in wanted), None), "ids"
    keys = [f" {k} " for k in (normalize_answer(a) for a in answers) if k]
    if not keys:
        return None, None
    for rank, hit in enumerate(hits, 1):
        if any(k in texts.setdefault(hit.id, f" {normalize_answer(hit.text)} ") for k in keys):
            return rank, "answers"
    return None, "answers"


def retrieval_report(retriever: BM25Retriever, qa: Dataset, options: ReportOptions) -> dict[str, Any]:
    """Recall@k per domain and overall, with the count of questions judged by ids and by answers."""
    if len(qa) == 0:
        raise GrpoRagError("the QA file has no questions")
    domains = list(qa["domain"])
    if options.own_domain:
        unknown = sorted(set(domains) - set(retriever.domains))
        if unknown:
            raise GrpoRagError(
                f"--own-domain: question domain(s) {', '.join(unknown)} are not corpus domains "
                f"({', '.join(retriever.domains)}); drop --own-domain to search the pooled index"
            )
    start = time.perf_counter()
    hits = retriever.retrieve(
        list(qa["question"]), max(options.ks), domains=[[d] for d in domains] if options.own_domain else None
    )
    seconds = time.perf_counter() - start
    texts: dict[str, str] = {}
    groups: dict[str, dict[str, Any]] = {}
    for q_hits, gold, answers, domain in zip(hits, qa["gold_ids"], qa["answers"], domains, strict=True):
        rank, how = _found_ranks(q_hits, gold, answers, texts)
        for name in (ALL, domain) if domain != ALL else (ALL,):
            g = groups.setdefault(name, {"n": 0, "by_ids": 0, "by_answers": 0, "skipped": 0, "found": []})
            if how is None:
                g["skipped"] += 1
                continue
            g["n"] += 1
            g["by_ids" if how == "ids" else "by_answers"] += 1
            g["found"].append(rank)
    rows = {}
    for name in [ALL, *sorted(n for n in groups if n != ALL)]:
        g = groups[name]
        found = g.pop("found")
        g["recall"] = {
            str(k): round(sum(r is not None and r <= k for r in found) / g["n"], 4) if g["n"] else None
            for k in options.ks
        }
        rows[name] = g
    if len(rows) == 2:  # one domain: its row is the overall row
        rows = {ALL: rows[ALL]}
    return {
        "questions": len(qa),
        "passages": len(retriever),
        "ks": list(options.ks),
        "search": "own domain" if options.own_domain else "pooled",
        "retrieval_settings": retriever.settings,
        "queries_per_second": round(len(qa) / max(seconds, 1e-9), 1),
        "rows": rows,
    }


def format_report(report: dict[str, Any]) -> str:
    """A markdown table: one row per domain and `all`, recall@k columns, and how gold was judged."""
    ks = report["ks"]
    head = ["domain", "n", *[f"R@{k}" for k in ks], "gold by ids", "by answer", "left out"]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for name, r in report["rows"].items():
        cells = [name, str(r["n"])]
        cells += ["-" if r["recall"][str(k)] is None else f"{r['recall'][str(k)]:.3f}" for k in ks]
        cells += [str(r["by_ids"]), str(r["by_answers"]), str(r["skipped"])]
        lines.append("| " + " | ".join(cells) + " |")
    settings = report["retrieval_settings"]
    lines.append(
        f"\n{report['questions']} questions, {report['passages']} passages, {report['search']} BM25 search "
        f"(stemmer {settings['stemmer']}, stopwords {settings['stopwords']}), "
        f"{report['queries_per_second']:.0f} queries/s. A question without gold ids counts as found when a "
        "top-k passage contains one of its answers; questions with neither are left out."
    )
    return "\n".join(lines)
