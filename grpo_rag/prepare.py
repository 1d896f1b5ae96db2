"""Turn QA rows into model inputs: retrieve once per question (batched), then build the prompt.

The retrieved passages, their ids and titles travel as dataset columns next to the gold answers, so every
reward function and the evaluator see exactly what the model saw.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from datasets import Dataset

from grpo_rag.prompts import build_prompt, format_target
from grpo_rag.retrieval import BM25Retriever

#: Where the passages of a prompt come from: BM25, none at all, or the gold passages themselves.
Context = Literal["retrieved", "closed_book", "oracle"]


@dataclass(frozen=True)
class PromptOptions:
    """How prompts are assembled from hits; one place so training and evaluation agree."""

    k: int = 3
    domains: tuple[str, ...] | None = None  # restrict retrieval to these domains; None = pooled index
    per_domain_k: tuple[tuple[str, int], ...] = ()  # overrides of k for questions of a given domain
    chat: bool = False  # emit conversational messages (for tokenizers with a chat template)
    context: Context = "retrieved"

    def k_for(self, domain: str) -> int:
        return dict(self.per_domain_k).get(domain, self.k)


def attach_context(
    qa: Dataset,
    retriever: BM25Retriever | None,
    options: PromptOptions,
    *,
    show_progress: bool = False,
) -> Dataset:
    """Add `prompt`, `passages`, `passage_ids`, `passage_titles` columns to a QA dataset.

    With `context="oracle"` the gold passages are used (questions without gold ids get none); with
    `"closed_book"` no passages are given. Retrieval is one batched call per distinct k.
    """
    questions: list[str] = qa["question"]
    n = len(questions)
    hits: list[list[tuple[str, str, str]]] = [[] for _ in range(n)]  # (id, title, text)
    if options.context == "retrieved":
        if retriever is None:
            raise ValueError("retrieved context needs a retriever")
        domains = list(options.domains) if options.domains else None
        by_k: dict[int, list[int]] = {}
        for i, dom in enumerate(qa["domain"]):
            by_k.setdefault(options.k_for(dom), []).append(i)
        for k, rows in by_k.items():
            found = retriever.retrieve([questions[i] for i in rows], k=k, domains=domains,
                                       show_progress=show_progress)
            for i, row_hits in zip(rows, found, strict=True):
                hits[i] = [(h.id, h.title, h.text) for h in row_hits]
    elif options.context == "oracle":
        if retriever is None:
            raise ValueError("oracle context needs the corpus (through a retriever)")
        lookup = retriever.passage_lookup()
        for i, gold in enumerate(qa["gold_ids"]):
            hits[i] = [(g, *lookup[g]) for g in gold]
    cols: dict[str, list[Any]] = {"prompt": [], "passages": [], "passage_ids": [], "passage_titles": []}
    for question, row_hits in zip(questions, hits, strict=True):
        texts = [h[2] for h in row_hits]
        titles = [h[1] for h in row_hits]
        cols["prompt"].append(build_prompt(question, texts, titles, chat=options.chat))
        cols["passages"].append(texts)
        cols["passage_ids"].append([h[0] for h in row_hits])
        cols["passage_titles"].append(titles)
    out = qa
    for name, values in cols.items():
        if name in out.column_names:
            out = out.remove_columns(name)
        out = out.add_column(name, values)
    return out


def gold_completion(answers: Sequence[str], passage_ids: Sequence[str], gold_ids: Sequence[str],
                    answerable: bool) -> str:
    """The ideal completion for a prepared row: first gold answer, citing the retrieved gold passages."""
    if not answerable:
        from grpo_rag.prompts import ABSTAIN_ANSWER

        return format_target(ABSTAIN_ANSWER)
    gold = set(gold_ids)
    cites = [n for n, pid in enumerate(passage_ids, start=1) if pid in gold]
    return format_target(answers[0], cites)


def shuffled_passages(row: dict[str, Any], rng: random.Random, chat: bool = False) -> dict[str, Any]:
    """Return a copy of a prepared row with its passages in a random order and the prompt rebuilt.

    Used for supervised warm-up so that a model cannot learn "the answer is always in passage [1]".
    """
    order = list(range(len(row["passages"])))
    rng.shuffle(order)
    out = dict(row)
    for key in ("passages", "passage_ids", "passage_titles"):
        out[key] = [row[key][i] for i in order]
    out["prompt"] = build_prompt(row["question"], out["passages"], out["passage_titles"], chat=chat)
    return out
