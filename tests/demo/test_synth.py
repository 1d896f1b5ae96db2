"""The synthetic demo knowledge base: seeded, split by entity family, distractors BM25 ranks high."""

from __future__ import annotations

from pathlib import Path

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.demo.synth import SynthOptions, generate, write_demo_data
from grpo_rag.pipeline.prepare import PromptOptions, attach_context
from grpo_rag.retrieval.bm25 import BM25Retriever

ROOT = Path(__file__).resolve().parents[2]


def _family(question_id: str) -> str:
    return question_id.split(":")[1].split("-")[0]


def test_shipped_demo_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    counts = write_demo_data(tmp_path)
    assert counts == {"passages": 1800, "train": 1440, "heldout": 360}
    for name in ("corpus.jsonl", "train.jsonl", "heldout.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / "demo" / name).read_bytes(), name


def test_heldout_families_never_appear_in_training() -> None:
    corpus, train, heldout = generate(SynthOptions(seed=3, train_families=4, heldout_families=2))
    assert {_family(q["id"]) for q in train}.isdisjoint({_family(q["id"]) for q in heldout})
    assert {q["domain"] for q in heldout} == {"datacenter", "mobility", "medical", "legal"}
    assert generate(SynthOptions(seed=3, train_families=4, heldout_families=2))[0] == corpus


def test_siblings_are_retrieved_as_distractors(tmp_path: Path) -> None:
    write_demo_data(tmp_path, SynthOptions(seed=1, train_families=3, heldout_families=1))
    corpus = load_corpus(tmp_path / "corpus.jsonl")
    qa = load_qa(tmp_path / "heldout.jsonl", set(corpus["id"]))
    prepared = attach_context(qa, BM25Retriever.build(corpus), PromptOptions(k=3))
    same_family = 0
    for row in prepared:
        assert row["passage_ids"][0] == row["gold_ids"][0]
        # Every prompt carries at least one near-duplicate: a fact about the same family.
        others = [_family(pid) == _family(row["id"]) for pid in row["passage_ids"][1:]]
        assert any(others)
        same_family += sum(others)
    assert same_family / (2 * len(prepared)) > 0.8
