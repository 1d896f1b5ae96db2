"""Two-hop composition (grpo_rag/data/compose.py): which pairs qualify, how the question hides the bridge,
and the split by bridge name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grpo_rag.data.compose import ComposeOptions, compose_pairs, compose_question, load_hops, split_pairs


def _q(qid: str, question: str, answer: str, gold: str, domain: str = "wikipedia") -> dict[str, Any]:
    return {
        "id": qid,
        "question": question,
        "answers": [answer],
        "domain": domain,
        "gold_ids": [gold],
        "answerable": True,
    }


def test_a_named_answer_that_another_question_mentions_makes_a_pair() -> None:
    rows = [
        _q("a", "What is another name for Constantinople?", "Istanbul", "p1"),
        _q("b", "What two seas does Istanbul sit between?", "Marmara and Black Sea", "p2"),
    ]
    [pair] = compose_pairs(rows, ComposeOptions())
    assert pair["question"] == (
        'X is the answer to "What is another name for Constantinople?". What two seas does X sit between?'
    )
    assert pair["answers"] == ["Marmara and Black Sea"] and pair["gold_ids"] == ["p1", "p2"]
    assert [h["question"] for h in pair["hops"]] == [rows[0]["question"], rows[1]["question"]]
    assert pair["bridge"] == "Istanbul"


def test_pairs_that_would_not_need_two_hops_or_name_nothing_are_refused() -> None:
    rows = [
        _q("lower", "What did white landowners get?", "vote", "p1"),  # not a name
        _q("q-vote", "How did people vote in 1900?", "Republican", "p2"),
        _q("year", "When did it open?", "1905", "p3"),  # digits
        _q("q-year", "What happened in 1905?", "Revolution", "p4"),
        _q("same", "Where is the Bosphorus?", "Istanbul", "p5"),
        _q("q-same", "How big is Istanbul?", "huge", "p5"),  # same gold passage: one hop
        _q("q-in-answer", "Who ruled Istanbul?", "the Istanbul council", "p6"),  # bridge inside the answer
        _q("reddit", "Which city?", "Istanbul", "p7", domain="reddit"),  # other domain
        _q("echo", "Is Istanbul big?", "Istanbul", "p8"),  # answer already in its own question
    ]
    assert compose_pairs(rows, ComposeOptions()) == []


def test_whole_words_only_and_a_cap_per_bridge() -> None:
    assert (
        compose_question("Q1?", "Is Iranian food Iran's?", "Iran")
        == 'X is the answer to "Q1?". Is Iranian food X\'s?'
    )
    rows = [_q("a", "Which country?", "Iran", "p0")]
    rows += [_q(f"b{i}", f"Where in Iran is site {i}?", "north", f"p{i + 1}") for i in range(6)]
    assert len(compose_pairs(rows, ComposeOptions(per_bridge=4))) == 4


def test_split_keeps_a_bridge_on_one_side_and_is_stable(tmp_path: Path) -> None:
    pairs = [{"bridge": f"Name{i % 20}", "id": str(i), "hops": [{"question": "q"}]} for i in range(200)]
    train, heldout = split_pairs(pairs, 0.3)
    assert {p["bridge"] for p in train}.isdisjoint({p["bridge"] for p in heldout})
    assert 0 < len(heldout) < len(pairs)
    assert split_pairs(list(reversed(pairs)), 0.3)[1] == list(reversed(heldout))
    path = tmp_path / "t.jsonl"
    path.write_text("".join(json.dumps(p) + "\n" for p in pairs[:3]))
    assert load_hops(path) == {"0": [{"question": "q"}], "1": [{"question": "q"}], "2": [{"question": "q"}]}
