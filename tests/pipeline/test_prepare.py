"""Question selection (domain filter, domain-balanced sampling) and routed prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.errors import DataError
from grpo_rag.pipeline.prepare import PromptOptions, attach_context, select_questions
from grpo_rag.retrieval.bm25 import BM25Retriever


def _qa(counts: dict[str, int]) -> Dataset:
    rows = [{"id": f"{d}-{i}", "domain": d} for d, n in counts.items() for i in range(n)]
    return Dataset.from_list(rows)


def test_balanced_sampling_shares_the_limit_between_domains() -> None:
    qa = _qa({"big": 90, "small": 6, "mid": 20})
    picked = select_questions(qa, None, 30, balance=True, seed=0)
    counts = {d: picked["domain"].count(d) for d in ("big", "small", "mid")}
    assert counts == {"big": 12, "small": 6, "mid": 12}  # small gives all it has, the rest split evenly
    assert len(set(picked["id"])) == 30
    assert select_questions(qa, None, 30, balance=True, seed=0)["id"] == picked["id"]  # seeded
    unbalanced = select_questions(qa, None, 30, balance=False, seed=0)
    assert unbalanced["domain"].count("big") > 12


def test_domain_filter(tmp_path: Path) -> None:
    qa = _qa({"a": 3, "b": 2})
    assert set(select_questions(qa, ["b"], None, balance=False, seed=0)["domain"]) == {"b"}
    with pytest.raises(DataError, match="no questions of domain"):
        select_questions(qa, ["c"], None, balance=False, seed=0, path="qa.jsonl")


def test_routed_prompts_carry_their_route(tiny_corpus_path: Path, tiny_qa_path: Path) -> None:
    corpus = load_corpus(tiny_corpus_path)
    qa = load_qa(tiny_qa_path).select(range(4))
    retriever = BM25Retriever.build(corpus)
    out = attach_context(qa, retriever, PromptOptions(k=3, router="bm25", top_m=1))
    assert out["routed_top"] == ["datacenter", "datacenter", "mobility", "mobility"]
    for routed, ids in zip(out["routed_domains"], out["passage_ids"], strict=True):
        assert routed and all(pid.startswith("dc-" if routed == ["datacenter"] else "mob-") for pid in ids)
