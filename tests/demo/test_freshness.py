"""The changed demo knowledge base used by `compare` for freshness checks."""

from __future__ import annotations

from pathlib import Path

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.demo.synth import SynthOptions, generate


def _family(question_id: str) -> str:
    return question_id.split(":")[1].split("-")[0]


def test_changed_kb_updates_facts_and_adds_entities(tmp_path: Path) -> None:
    from grpo_rag.demo.freshness import change_kb, write_changed_kb

    corpus, train, _ = generate(SynthOptions(seed=2, train_families=3, heldout_families=1))
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

    from grpo_rag.demo.freshness import change_kb

    with pytest.raises(ValueError, match="demo fact"):
        change_kb(tiny_corpus_rows, tiny_qa_rows, updated_per_domain=1, new_families_per_domain=1)
