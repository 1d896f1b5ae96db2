"""The freshness check of `grpo-rag compare`: knowledge that arrives after training, taken in by re-indexing.

Two kinds (`compare.freshness_kind`):
- `demo`: the synthetic demo KB is changed (new values for trained facts, new entities), re-indexed, and
  every arm is scored on the changed facts before and after the change (`grpo_rag/demo/freshness.py`);
- `documents` (any real data): the gold passages of a sample of held-out questions are held out of the
  corpus while the arms train, then added back to the index at evaluation time; every arm is scored on
  those questions without the documents and with them.

Both return the same description: the evaluation sets, which corpus each is scored against (`original` or
`changed`), the before/after pair, and the corpora and indexes.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from grpo_rag.config import RunConfig
from grpo_rag.data.io import load_corpus, load_qa, write_jsonl
from grpo_rag.errors import ConfigError
from grpo_rag.pipeline.selection import select_questions
from grpo_rag.retrieval.bm25 import build_index
from grpo_rag.studies.settings import SECTION, CompareConfig


def _index(cfg: RunConfig, corpus: Path, out: Path) -> float:
    """Index `corpus` into `out` with the config's tokenizer settings; returns the seconds it took."""
    start = time.time()
    build_index(
        corpus, out, stemmer=cfg.retrieval.stemmer, stopwords=cfg.retrieval.stopwords, show_progress=False
    )
    return time.time() - start


def prepare_freshness(cfg: RunConfig, out: Path) -> dict[str, Any]:
    """Write the freshness corpora, indexes and QA sets under `out` (the kind the config names)."""
    cc = cfg.section(SECTION, CompareConfig)
    if cc.freshness_kind == "documents":
        return _held_out_documents(cfg, cc, out)
    return _changed_demo_kb(cfg, cc, out)


def _changed_demo_kb(cfg: RunConfig, cc: CompareConfig, out: Path) -> dict[str, Any]:
    from grpo_rag.demo.freshness import change_kb, write_changed_kb

    corpus = [dict(r) for r in load_corpus(cfg.data.corpus)]
    train_qa = [dict(r) for r in load_qa(cfg.data.train)]
    try:
        kb = change_kb(
            corpus,
            train_qa,
            updated_per_domain=cc.updated_facts_per_domain,
            new_families_per_domain=cc.new_families_per_domain,
            seed=cc.freshness_seed,
        )
    except ValueError as exc:
        raise ConfigError(
            f"compare.freshness: the demo kind needs the demo data made by `grpo-rag demo-data` ({exc}); "
            "set compare.freshness_kind: documents for other data, or compare.freshness: false"
        ) from None
    paths = write_changed_kb(out, kb)
    reindex = _index(cfg, paths["corpus"], out / "index")
    original = {r["id"]: r["text"] for r in corpus}
    updated = sum(1 for r in kb.corpus if r["id"] in original and original[r["id"]] != r["text"])
    names = ("updated_before", "updated_after", "new_entities")
    return {
        "kind": "demo",
        "corpus": str(paths["corpus"]),
        "index": str(out / "index"),
        "original_corpus": cfg.data.corpus,
        "original_index": cfg.retrieval.index_dir,
        "sets": {name: str(paths[name]) for name in names},
        "set_corpus": {"updated_before": "original", "updated_after": "changed", "new_entities": "changed"},
        "set_labels": {
            "updated_before": "updated facts, before",
            "updated_after": "updated facts, after",
            "new_entities": "new entities",
        },
        "pair": ["updated_before", "updated_after"],
        "summary": f"{updated} training facts got new values and {len(kb.corpus) - len(corpus)} passages about new entities were "
        f"added; updated facts: {len(kb.updated_after)} questions, new entities: {len(kb.new_entities)}",
        "updated_passages": updated,
        "added_passages": len(kb.corpus) - len(corpus),
        "updated_questions": len(kb.updated_after),
        "new_entity_questions": len(kb.new_entities),
        "reindex_seconds": round(reindex, 3),
    }


def _held_out_documents(cfg: RunConfig, cc: CompareConfig, out: Path) -> dict[str, Any]:
    corpus = load_corpus(cfg.data.corpus)
    heldout = load_qa(cfg.data.eval, corpus_ids=set(corpus["id"]))
    heldout = heldout.filter(lambda g: bool(g), input_columns="gold_ids")
    fresh = select_questions(heldout, cfg.data.domains, cc.fresh_questions, True, cc.freshness_seed)
    removed = {g for gold in fresh["gold_ids"] for g in gold}
    train_ids = {g for gold in load_qa(cfg.data.train)["gold_ids"] for g in gold}
    if removed & train_ids:
        raise ConfigError(
            "compare.freshness_kind documents: some held-out gold passages are also training gold passages; "
            "split the data by passage (grpo-rag import does)"
        )
    out.mkdir(parents=True, exist_ok=True)
    kept = [r for r in corpus.to_list() if r["id"] not in removed]
    write_jsonl(out / "train_corpus.jsonl", kept)
    write_jsonl(out / "fresh.jsonl", fresh.to_list())
    # Scored against the training-time corpus, where their gold passages do not exist yet (no gold ids).
    write_jsonl(out / "fresh_without_documents.jsonl", [dict(r, gold_ids=[]) for r in fresh.to_list()])
    _index(cfg, out / "train_corpus.jsonl", out / "train_index")
    reindex = _index(cfg, Path(cfg.data.corpus), out / "index")
    return {
        "kind": "documents",
        "corpus": cfg.data.corpus,
        "index": str(out / "index"),
        "original_corpus": str(out / "train_corpus.jsonl"),
        "original_index": str(out / "train_index"),
        "train_corpus": str(out / "train_corpus.jsonl"),
        "train_index": str(out / "train_index"),
        "sets": {
            "without_documents": str(out / "fresh_without_documents.jsonl"),
            "with_documents": str(out / "fresh.jsonl"),
        },
        "set_corpus": {"without_documents": "original", "with_documents": "changed"},
        "set_labels": {
            "without_documents": "new questions, documents not indexed",
            "with_documents": "new questions, documents added",
        },
        "pair": ["without_documents", "with_documents"],
        "summary": f"{len(removed)} gold passages of {len(fresh)} held-out questions were left out of the corpus "
        "while the arms trained, then added to the index for evaluation",
        "held_out_passages": len(removed),
        "fresh_questions": len(fresh),
        "reindex_seconds": round(reindex, 3),
    }
