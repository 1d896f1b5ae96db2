"""Turn QA rows into model inputs: retrieve once per question (batched), then build the prompt.

The retrieved passages, their ids and titles travel as dataset columns next to the gold answers, so every
reward function and the evaluator see exactly what the model saw.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from datasets import Dataset, load_from_disk

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.errors import ConfigError, DataError
from grpo_rag.pipeline.checks import answers_in_gold
from grpo_rag.pipeline.selection import select_questions
from grpo_rag.progress import stage
from grpo_rag.prompts.templates import build_prompt, build_search_prompt, format_target, render_prefilled
from grpo_rag.retrieval.bm25 import BM25Retriever

if TYPE_CHECKING:
    from grpo_rag.config import RunConfig

#: Where the passages of a prompt come from: BM25, none at all, the gold passages themselves, or the
#: model's own `search` calls during a multi-turn rollout (the prompt then holds only the question).
Context = Literal["retrieved", "closed_book", "oracle", "search"]


@dataclass(frozen=True)
class PromptOptions:
    """How prompts are assembled from hits; one place so training and evaluation agree."""

    k: int = 3
    domains: tuple[str, ...] | None = None  # restrict retrieval to these domains; None = pooled index
    per_domain_k: tuple[tuple[str, int], ...] = ()  # overrides of k for questions of a given domain
    chat: bool = False  # emit conversational messages (for tokenizers with a chat template)
    context: Context = "retrieved"
    instructions: str | None = None  # None = prompts.INSTRUCTIONS
    closed_book_instructions: str | None = None  # None = prompts.CLOSED_BOOK_INSTRUCTIONS
    router: str | None = None  # route each question to domains first ("bm25" or a router file); None = off
    top_m: int = 1  # routed questions search their router's m most likely domains
    threshold: float = 0.0  # below this top-m probability a question falls back to the pooled index
    scoring: str = "pooled"  # routed BM25 scores: "pooled" (masked pool) or "domain" (own indices)
    prefill: str | None = None  # the model's turn starts with this text (`apply_prefill`); None = off

    def k_for(self, domain: str) -> int:
        return dict(self.per_domain_k).get(domain, self.k)

    def render(self, question: str, passages: Sequence[str], titles: Sequence[str] | None = None) -> Any:
        """The prompt for one question with these options (text, or chat messages)."""
        return build_prompt(
            question,
            passages,
            titles,
            chat=self.chat,
            instructions=self.instructions,
            closed_book_instructions=self.closed_book_instructions,
        )


#: Questions per retrieval call in `attach_context` (one call per batch moves the `retrieve` bar).
RETRIEVE_BATCH = 256


def attach_context(
    qa: Dataset,
    retriever: BM25Retriever | None,
    options: PromptOptions,
    *,
    show_progress: bool = False,
) -> Dataset:
    """Add `prompt`, `passages`, `passage_ids`, `passage_titles` columns to a QA dataset.

    With `context="oracle"` the gold passages are used (questions without gold ids get none); with
    `"closed_book"` or `"search"` no passages are given (with `"search"` the prompt is the multi-turn
    search prompt). Retrieval is one batched call per distinct k. With a router, `routed_domains`
    (searched domains; [] = pooled fallback) and `routed_top` columns are added too.
    """
    questions: list[str] = qa["question"]
    n = len(questions)
    hits: list[list[tuple[str, str, str]]] = [[] for _ in range(n)]  # (id, title, text)
    routes = None
    if options.router is not None:
        from grpo_rag.retrieval.routing import load_router, route

        if retriever is None:
            raise ValueError("routing needs a retriever")
        routes = route(load_router(options.router, retriever), questions, options.top_m, options.threshold)
    if options.context == "retrieved":
        if retriever is None:
            raise ValueError("retrieved context needs a retriever")
        static = list(options.domains) if options.domains else None
        by_k: dict[int, list[int]] = {}
        for i, dom in enumerate(qa["domain"]):
            by_k.setdefault(options.k_for(dom), []).append(i)
        # Batches of questions, so that the stage bar moves and shows an ETA on large sets.
        batches = [
            (k, rows[s : s + RETRIEVE_BATCH])
            for k, rows in by_k.items()
            for s in range(0, len(rows), RETRIEVE_BATCH)
        ]
        with stage("retrieve", total=n, unit="q") as bar:
            for k, rows in batches:
                domains = static if routes is None else [routes[i].domains for i in rows]
                found = retriever.retrieve(
                    [questions[i] for i in rows],
                    k=k,
                    domains=domains,
                    show_progress=show_progress,
                    scoring=options.scoring,
                )
                for i, row_hits in zip(rows, found, strict=True):
                    hits[i] = [(h.id, h.title, h.text) for h in row_hits]
                bar.update(len(rows))
    elif options.context == "oracle":
        if retriever is None:
            raise ValueError("oracle context needs the corpus (through a retriever)")
        lookup = retriever.passage_lookup()
        for i, gold in enumerate(qa["gold_ids"]):
            hits[i] = [(g, *lookup[g]) for g in gold]
    cols: dict[str, list[Any]] = {"prompt": [], "passages": [], "passage_ids": [], "passage_titles": []}
    if routes is not None:
        cols["routed_domains"] = [list(r.domains or ()) for r in routes]
        cols["routed_top"] = [r.top for r in routes]
    for question, row_hits in zip(questions, hits, strict=True):
        texts = [h[2] for h in row_hits]
        titles = [h[1] for h in row_hits]
        if options.context == "search":
            cols["prompt"].append(build_search_prompt(question))
        else:
            cols["prompt"].append(options.render(question, texts, titles))
        cols["passages"].append(texts)
        cols["passage_ids"].append([h[0] for h in row_hits])
        cols["passage_titles"].append(titles)
    out = qa
    for name, values in cols.items():
        if name in out.column_names:
            out = out.remove_columns(name)
        out = out.add_column(name, values)
    return out


def gold_completion(
    answers: Sequence[str], passage_ids: Sequence[str], gold_ids: Sequence[str], answerable: bool
) -> str:
    """The ideal completion for a prepared row: first gold answer, citing the retrieved gold passages."""
    if not answerable:
        from grpo_rag.prompts.templates import ABSTAIN_ANSWER

        return format_target(ABSTAIN_ANSWER)
    gold = set(gold_ids)
    cites = [n for n, pid in enumerate(passage_ids, start=1) if pid in gold]
    return format_target(answers[0], cites)


def shuffled_passages(
    row: dict[str, Any], rng: random.Random, options: PromptOptions | None = None
) -> dict[str, Any]:
    """Return a copy of a prepared row with its passages in a random order and the prompt rebuilt.

    Used for supervised warm-up so that a model cannot learn "the answer is always in passage [1]".
    """
    order = list(range(len(row["passages"])))
    rng.shuffle(order)
    out = dict(row)
    for key in ("passages", "passage_ids", "passage_titles"):
        out[key] = [row[key][i] for i in order]
    out["prompt"] = (options or PromptOptions()).render(
        row["question"], out["passages"], out["passage_titles"]
    )
    return out


def load_retriever(cfg: RunConfig, corpus: Dataset | None = None) -> BM25Retriever:
    """The saved index named by the config (checked against the corpus), or one built in memory."""
    corpus = corpus if corpus is not None else load_corpus(cfg.data.corpus)
    if cfg.retrieval.index_dir and Path(cfg.retrieval.index_dir).exists():
        retriever = BM25Retriever.load(cfg.retrieval.index_dir, corpus=corpus, backend=cfg.retrieval.backend)
        for key in ("stemmer", "stopwords"):  # the config must not be overridden silently by the index
            wanted, built = getattr(cfg.retrieval, key), retriever.settings.get(key)
            if wanted != built:
                raise ConfigError(
                    f"retrieval.{key}: the config says {wanted}, but the index in {cfg.retrieval.index_dir} "
                    f"was built with {built}; rebuild it (grpo-rag index --{key} {wanted or 'none'}) "
                    f"or set retrieval.{key}={built or 'null'}"
                )
        return retriever
    return BM25Retriever.build(
        corpus,
        stemmer=cfg.retrieval.stemmer,
        stopwords=cfg.retrieval.stopwords,
        backend=cfg.retrieval.backend,
    )


def prompt_options(cfg: RunConfig, chat: bool, context: str = "retrieved") -> PromptOptions:
    r, ro = cfg.retrieval, cfg.routing
    return PromptOptions(
        k=r.k,
        domains=tuple(r.domains) if r.domains else None,
        per_domain_k=tuple(sorted(r.per_domain_k.items())),
        chat=chat,
        context=context,  # type: ignore[arg-type]
        instructions=cfg.prompt.instructions,
        closed_book_instructions=cfg.prompt.closed_book_instructions,
        router=ro.router,
        top_m=ro.top_m,
        threshold=ro.threshold,
        scoring=ro.scoring,
        prefill=cfg.prompt.prefill if context != "search" else None,
    )


def _file_digest(path: str) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except IsADirectoryError:
        raise DataError(path, "is a directory, expected a JSONL file") from None
    return h.hexdigest()[:16]


def prepare_split(
    cfg: RunConfig,
    qa_path: str,
    options: PromptOptions,
    cache_dir: Path | None,
    limit: int | None = None,
    *,
    split: Literal["eval", "sft", "grpo"] = "eval",
) -> Dataset:
    """Load QA, retrieve for every question in one batched pass, build prompts; cached under `cache_dir`.

    Only questions of `data.domains` are kept; `limit` is drawn domain-balanced when `data.balance_domains`.
    A training set (`split` sft or grpo) also follows `data.balance_labels`, GRPO's also `data.domain_weights`;
    held-out sets follow neither.
    """
    balance_labels = split != "eval" and cfg.data.balance_labels
    weights = cfg.data.domain_weights if split == "grpo" else {}
    router_digest = (
        _file_digest(options.router) if options.router and Path(options.router).is_file() else None
    )
    key = json.dumps(
        {
            "qa": _file_digest(qa_path),
            "corpus": _file_digest(cfg.data.corpus),
            "options": repr(options),
            "limit": limit,
            "seed": cfg.data.sample_seed,
            "stem": cfg.retrieval.stemmer,
            "stop": cfg.retrieval.stopwords,
            "domains": cfg.data.domains,
            "balance": cfg.data.balance_domains,
            "labels": balance_labels,
            "weights": sorted(weights.items()),
            "router": router_digest,
            "columns": 2,  # 2: + answer_in_gold
        },
        sort_keys=True,
    )
    key_file = cache_dir / "key.json" if cache_dir is not None else None
    if key_file is not None and key_file.is_file() and key_file.read_text() == key:
        return load_from_disk(str(key_file.parent / "data"))
    corpus = load_corpus(cfg.data.corpus)
    qa = load_qa(qa_path, corpus_ids=set(corpus["id"]))
    qa = select_questions(
        qa,
        cfg.data.domains,
        limit,
        cfg.data.balance_domains,
        cfg.data.sample_seed,
        qa_path,
        balance_labels=balance_labels,
        weights=weights,
    )
    needs_index = options.context not in ("closed_book", "search") or options.router is not None
    retriever = load_retriever(cfg, corpus) if needs_index else None
    prepared = attach_context(qa, retriever, options)
    text_of = dict(zip(corpus["id"], corpus["text"], strict=True))
    gold_texts = [[text_of[g] for g in gold if g in text_of] for gold in qa["gold_ids"]]
    prepared = prepared.add_column("answer_in_gold", answers_in_gold(qa["answers"], gold_texts))
    if cache_dir is not None:
        tmp = cache_dir.with_name(f".{cache_dir.name}.tmp-{os.getpid()}")
        shutil.rmtree(tmp, ignore_errors=True)
        prepared.save_to_disk(str(tmp / "data"))
        (tmp / "key.json").write_text(key)
        shutil.rmtree(cache_dir, ignore_errors=True)
        os.replace(tmp, cache_dir)
        prepared = load_from_disk(str(cache_dir / "data"))
    return prepared


def apply_prefill(prepared: Dataset, tokenizer: Any, prefill: str | None) -> Dataset:
    """Prompts as text ending with `prefill` inside the model's turn (chat templates rendered); no-op for None.

    Runs after retrieval and augmentation, where the tokenizer is at hand: TRL and `generate` then take the
    prompts as plain text, and the completion continues the prefilled turn.
    """
    if not prefill:
        return prepared
    prompts = [render_prefilled(p, tokenizer, prefill) for p in prepared["prompt"]]
    return prepared.remove_columns("prompt").add_column("prompt", prompts)
