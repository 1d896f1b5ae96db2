"""Question selection: domain filter, domain shares (equal or weighted) and yes/no label balance."""

from __future__ import annotations

import pytest
from datasets import Dataset

from grpo_rag.errors import DataError
from grpo_rag.pipeline.selection import interleave_labels, select_questions


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


def test_domain_weights_share_the_limit_in_proportion() -> None:
    qa = _qa({"a": 100, "b": 100, "med": 100})
    picked = select_questions(qa, None, 45, balance=True, seed=0, weights={"med": 0.25})
    counts = {d: picked["domain"].count(d) for d in ("a", "b", "med")}
    assert counts == {"a": 20, "b": 20, "med": 5}  # 1 : 1 : 0.25
    equal = select_questions(qa, None, 45, balance=True, seed=0, weights={"a": 1.0})
    assert equal["id"] == select_questions(qa, None, 45, balance=True, seed=0)["id"]  # weight 1 = unweighted
    # A domain that runs out leaves its place to the others, still in proportion.
    short = select_questions(_qa({"a": 100, "b": 4}), None, 40, balance=True, seed=0, weights={"b": 3.0})
    assert short["domain"].count("b") == 4 and short["domain"].count("a") == 36


def test_domain_filter() -> None:
    qa = _qa({"a": 3, "b": 2})
    assert set(select_questions(qa, ["b"], None, balance=False, seed=0)["domain"]) == {"b"}
    with pytest.raises(DataError, match="no questions of domain"):
        select_questions(qa, ["c"], None, balance=False, seed=0, path="qa.jsonl")
