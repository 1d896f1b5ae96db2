"""The synthetic demo knowledge base: seeded, split by entity family, distractors BM25 ranks high."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from grpo_rag.data import load_corpus, load_qa
from grpo_rag.prepare import PromptOptions, attach_context
from grpo_rag.retrieval import BM25Retriever
from grpo_rag.synth import SynthConfig, generate, write_demo_data

ROOT = Path(__file__).resolve().parent.parent


def _family(question_id: str) -> str:
    return question_id.split(":")[1].split("-")[0]


def test_shipped_demo_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    counts = write_demo_data(tmp_path)
    assert counts == {"passages": 1800, "train": 1440, "heldout": 360}
    for name in ("corpus.jsonl", "train.jsonl", "heldout.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / "demo" / name).read_bytes(), name


def test_heldout_families_never_appear_in_training() -> None:
    corpus, train, heldout = generate(SynthConfig(seed=3, train_families=4, heldout_families=2))
    assert {_family(q["id"]) for q in train}.isdisjoint({_family(q["id"]) for q in heldout})
    assert {q["domain"] for q in heldout} == {"datacenter", "mobility", "medical", "legal"}
    assert generate(SynthConfig(seed=3, train_families=4, heldout_families=2))[0] == corpus


def test_siblings_are_retrieved_as_distractors(tmp_path: Path) -> None:
    write_demo_data(tmp_path, SynthConfig(seed=1, train_families=3, heldout_families=1))
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


def test_shipped_twohop_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    from grpo_rag.synth import write_twohop_data

    assert write_twohop_data(tmp_path) == {"twohop_passages": 1500, "twohop_train": 300, "twohop_heldout": 75}
    for name in ("twohop_corpus.jsonl", "twohop_train.jsonl", "twohop_heldout.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / "demo" / name).read_bytes(), name


def test_twohop_needs_two_searches_and_heldout_entities_are_unseen() -> None:
    from grpo_rag.synth import TwoHopConfig, generate_twohop, gold_queries

    corpus, train, heldout = generate_twohop(TwoHopConfig(seed=2, train_families=6, heldout_families=3))
    assert {g for q in train for g in q["gold_ids"]}.isdisjoint({g for q in heldout for g in q["gold_ids"]})
    train_text = " ".join(q["question"] for q in train)
    assert not any(q["question"].split()[-1].rstrip("?") in train_text for q in heldout)
    retriever = BM25Retriever.build(Dataset.from_list([{**row, "title": ""} for row in corpus]))
    by_id = {row["id"]: row["text"] for row in corpus}
    for q in train + heldout:
        site_id, model_id = q["gold_ids"]
        single = {h.id for h in retriever.retrieve([q["question"]], k=4)[0]}
        assert model_id not in single  # one search with the question cannot reach the second hop
        hop1, hop2 = gold_queries(q, by_id)
        assert site_id in {h.id for h in retriever.retrieve([hop1], k=2)[0]}
        assert model_id in {h.id for h in retriever.retrieve([hop2], k=2)[0]}
        assert q["answers"][0] in by_id[model_id] and hop2.split()[0] in by_id[site_id]
    assert gold_queries({"id": "x", "question": "Who?", "gold_ids": ["a"]}, by_id) == ["Who?"]


def test_changed_kb_updates_facts_and_adds_entities(tmp_path: Path) -> None:
    from grpo_rag.synth import change_kb, write_changed_kb

    corpus, train, _ = generate(SynthConfig(seed=2, train_families=3, heldout_families=1))
    kb = change_kb(corpus, train, updated_per_domain=4, new_families_per_domain=2, seed=5)
    assert kb == change_kb(corpus, train, updated_per_domain=4, new_families_per_domain=2, seed=5)
    old = {r["id"]: r["text"] for r in corpus}
    new = {r["id"]: r["text"] for r in kb.corpus}
    changed = [pid for pid in old if new[pid] != old[pid]]
    assert sorted(changed) == sorted(q["gold_ids"][0] for q in kb.updated_after) and len(changed) == 16
    train_ids = {q["id"] for q in train}
    for before, after in zip(kb.updated_before, kb.updated_after, strict=True):
        pid = after["gold_ids"][0]
        assert pid in train_ids and before["question"] == after["question"]
        assert before["answers"][0] in old[pid] and after["answers"][0] in new[pid]
        assert before["answers"] != after["answers"]
    added = [pid for pid in new if pid not in old]
    assert len(added) == len(kb.new_entities) == 4 * 2 * 3 * 3
    old_families = {pid.split(":")[1].split("-")[0] for pid in old}
    assert not {_family(q["id"]) for q in kb.new_entities} & old_families
    paths = write_changed_kb(tmp_path, kb)
    fresh = load_corpus(paths["corpus"])
    for name in ("updated_before", "updated_after", "new_entities"):
        assert len(load_qa(paths[name], set(fresh["id"]) if name != "updated_before" else set(old)))


def test_changed_kb_refuses_other_data(tiny_corpus_rows: list[dict], tiny_qa_rows: list[dict]) -> None:
    import pytest

    from grpo_rag.synth import change_kb

    with pytest.raises(ValueError, match="demo fact"):
        change_kb(tiny_corpus_rows, tiny_qa_rows, updated_per_domain=1, new_families_per_domain=1)
