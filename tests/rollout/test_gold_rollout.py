"""Gold multi-turn rollouts for the supervised warm start: one search per hop, the answer citing the gold
passages, and no target the searches cannot support."""

from __future__ import annotations

from grpo_rag.retrieval.bm25 import BM25Retriever
from grpo_rag.rollout.search import SearchEnvironment, SearchOptions, gold_rollout


def test_gold_rollout_searches_each_hop_then_answers_citing_the_gold(retriever: BM25Retriever) -> None:
    env = SearchEnvironment(retriever, SearchOptions(k=1, max_calls=2))
    row = {
        "question": "X is the answer to ...",
        "answers": ["within ten seconds"],
        "gold_ids": ["dc-04", "dc-03"],
    }
    hops = [
        {
            "question": "What bridges the gap until the generators take the load?",
            "answers": ["uninterruptible power supply"],
        },
        {"question": "How fast do the diesel generators start?", "answers": ["within ten seconds"]},
    ]
    messages = gold_rollout(env, row, hops)
    assert messages is not None
    assert [m["role"] for m in messages] == ["assistant", "tool", "assistant", "tool", "assistant"]
    assert [m["tool_calls"][0]["function"]["arguments"]["query"] for m in messages[::2][:2]] == [
        h["question"] for h in hops
    ]
    assert messages[-1]["content"] == "<answer>within ten seconds</answer> [1][2]"
    assert env.passage_ids == ["dc-04", "dc-03"]


def test_gold_rollout_refuses_a_target_the_searches_cannot_support(retriever: BM25Retriever) -> None:
    env = SearchEnvironment(retriever, SearchOptions(k=1, max_calls=2))
    hop_missed = [{"question": "night trams", "answers": ["uninterruptible power supply"]}]
    assert gold_rollout(env, {"answers": ["x"], "gold_ids": []}, hop_missed) is None
    # without hops the question is the one query; an answer absent from its results is no target either
    row = {"question": "How often do night trams run?", "answers": ["every hour"], "gold_ids": ["mob-05"]}
    assert gold_rollout(env, row) is None
    row["answers"] = ["every fifteen minutes"]
    assert gold_rollout(env, row)[-1]["content"] == "<answer>every fifteen minutes</answer> [1]"
