"""Question selection (domain filter, domain- and label-balanced sampling) and routed prompts."""

from __future__ import annotations

from pathlib import Path

import pytest
from datasets import Dataset

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.errors import DataError
from grpo_rag.pipeline.prepare import PromptOptions, attach_context, interleave_labels, select_questions
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


def _labelled(counts: dict[str, int], spans: int) -> Dataset:
    rows = [{"id": f"{a}-{i}", "domain": "med", "answers": [a]} for a, n in counts.items() for i in range(n)]
    rows += [{"id": f"span-{i}", "domain": "wiki", "answers": [f"span {i}"]} for i in range(spans)]
    return Dataset.from_list(rows)


def test_label_balance_deals_the_labels_in_turn_and_keeps_the_spans_in_place() -> None:
    answers = [["Yes"], ["the 1990s"], ["yes"], ["yes"], ["no"], ["maybe"], ["yes"]]
    out = interleave_labels([0, 1, 2, 3, 4, 5, 6], answers)
    assert out[1] == 1 and sorted(out) == list(range(7))  # the span keeps its place; nothing lost or doubled
    labels = [answers[i][0].lower() for i in out if i != 1]
    assert labels[:3] == ["maybe", "no", "yes"] and labels[3:] == [
        "yes",
        "yes",
        "yes",
    ]  # rarest first runs out


@pytest.mark.parametrize("balance", [True, False])
def test_label_balanced_sampling(balance: bool) -> None:
    qa = _labelled({"yes": 60, "no": 30, "maybe": 10}, spans=100)
    plain = select_questions(qa, None, 60, balance=balance, seed=0)
    picked = select_questions(qa, None, 60, balance=balance, seed=0, balance_labels=True)
    count = lambda ds, a: sum(x == [a] for x in ds["answers"])  # noqa: E731
    n = sum(count(picked, a) for a in ("yes", "no", "maybe"))
    assert n == sum(count(plain, a) for a in ("yes", "no", "maybe"))  # as many label questions as before
    assert max(count(picked, a) for a in ("yes", "no", "maybe")) - min(
        count(picked, a) for a in ("yes", "no", "maybe")
    ) <= (1 if balance else 2)
    assert count(plain, "yes") > count(plain, "maybe") + 5  # without it, the labels keep the file's skew
    assert select_questions(qa, None, 60, balance=balance, seed=0, balance_labels=True)["id"] == picked["id"]


def test_label_balance_needs_a_sample_cap() -> None:
    from grpo_rag.config.schema import DataConfig
    from grpo_rag.errors import ConfigError

    with pytest.raises(ConfigError, match="data.balance_labels: needs data.max_train_samples"):
        DataConfig(balance_labels=True)
    assert DataConfig(balance_labels=True, max_train_samples=10).balance_labels


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
