"""The two-hop demo knowledge base: shipped files match the generator; two searches are needed."""

from __future__ import annotations

from pathlib import Path

from datasets import Dataset

from grpo_rag.retrieval.bm25 import BM25Retriever

ROOT = Path(__file__).resolve().parents[2]


def test_shipped_twohop_data_is_what_the_generator_writes(tmp_path: Path) -> None:
    from grpo_rag.demo.twohop import write_twohop_data

    assert write_twohop_data(tmp_path) == {
        "twohop_passages": 12300,
        "twohop_train": 3000,
        "twohop_heldout": 75,
    }
    for name in ("twohop_corpus.jsonl", "twohop_train.jsonl", "twohop_heldout.jsonl"):
        assert (tmp_path / name).read_bytes() == (ROOT / "data" / "demo" / name).read_bytes(), name


def test_twohop_needs_two_searches_and_heldout_entities_are_unseen() -> None:
    from grpo_rag.demo.twohop import TwoHopOptions, generate_twohop, gold_queries

    corpus, train, heldout = generate_twohop(TwoHopOptions(seed=2, train_families=6, heldout_families=3))
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
