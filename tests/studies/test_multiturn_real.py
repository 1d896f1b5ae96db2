"""The real multi-turn study's analysis: where each multi-turn answer first fails, and its report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.studies.multiturn_real import (
    STAGES,
    answer_passage_found,
    failure_counts,
    failure_stage,
    plot,
    report_markdown,
)

HOPS = [
    {"question": "Q1?", "answers": ["Istanbul"], "gold_ids": ["p1"]},
    {"question": "Q2?", "answers": ["a"], "gold_ids": ["p2"]},
]


def _call(query: str) -> dict[str, Any]:
    return {
        "role": "assistant",
        "content": "",
        "tool_calls": [{"type": "function", "function": {"name": "search", "arguments": {"query": query}}}],
    }


def _pred(queries: list[str], found: list[str], em: float = 0.0, errors: int = 0) -> dict[str, Any]:
    messages: list[dict[str, Any]] = []
    for q in queries:
        messages += [_call(q), {"role": "tool", "name": "search", "content": "[1] ..."}]
    messages.append({"role": "assistant", "content": "<answer>a</answer>"})
    return {
        "completion": repr(messages),
        "passage_ids": found,
        "lenient_exact_match": em,
        "search_errors": errors,
    }


@pytest.mark.parametrize(
    ("pred", "stage"),
    [
        (_pred([], []), "no_call"),
        (_pred(["Q1"], ["p1"], errors=1), "malformed_call"),
        (_pred(["Q1"], ["p1"]), "one_call_only"),
        (_pred(["Q1", "what seas"], ["p9", "p2"]), "hop1_missed"),
        (_pred(["Q1", "what seas does Ankara"], ["p1", "p2"]), "bridge_not_copied"),
        (_pred(["Q1", "seas of istanbul"], ["p1", "p7"]), "hop2_missed"),
        (_pred(["Q1", "seas of Istanbul"], ["p1", "p2"]), "both_hops_found"),
        (_pred(["Q1", "seas of Istanbul"], ["p1", "p2"], em=1.0), "both_hops_found"),
    ],
)
def test_failure_stage_names_the_first_step_that_went_wrong(pred: dict[str, Any], stage: str) -> None:
    assert failure_stage(pred, HOPS, "Istanbul") == stage


def test_an_unreadable_completion_counts_as_no_call() -> None:
    pred = {"completion": "The answer is X.", "passage_ids": [], "lenient_exact_match": 0.0}
    assert failure_stage(pred, HOPS, "Istanbul") == "no_call"


def test_counts_report_and_plots(tmp_path: Path) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        json.dumps({"id": "t1", "bridge": "Istanbul", "hops": HOPS})
        + "\n"
        + json.dumps({"id": "t2", "bridge": "Istanbul", "hops": HOPS})
        + "\n"
    )
    ev = tmp_path / "eval"
    ev.mkdir()
    preds = [
        {"id": "t1", **_pred([], [])},
        {"id": "t2", **_pred(["Q1", "of Istanbul"], ["p1", "p2"], em=1.0)},
    ]
    (ev / "predictions.jsonl").write_text("".join(json.dumps(p) + "\n" for p in preds))
    counts = failure_counts(ev, str(qa))
    assert counts["no_call"] == {"questions": 1, "right": 0}
    assert counts["both_hops_found"] == {"questions": 1, "right": 1}
    assert sum(c["questions"] for c in counts.values()) == 2 and set(counts) == set(STAGES)
    assert answer_passage_found(ev, str(qa)) == 0.5  # t2's context held its second-hop passage, t1's nothing
    row: dict[str, Any] = {
        "lenient_exact_match": 0.5,
        "lenient_f1": 0.6,
        "exact_match": 0.5,
        "grounded": 0.5,
        "search_calls": 1.0,
        "gold_recall": 0.5,
        "n": 2,
    }
    report = {
        "heldout_questions": 2,
        "sft_steps": 1,
        "grpo_steps": 1,
        "rows": {
            "GRPO multi-turn": row,
            "GRPO single-shot": {**row, "search_calls": None, "gold_recall": None},
        },
        "retrieval_only": {"n": 2, "single_top2_both_hops": 0.5},
        "failures": {"GRPO multi-turn": counts},
        "timings_s": {"total": 3.0},
    }
    text = report_markdown(report)
    assert "| GRPO multi-turn | 0.500 | 0.600 |" in text and "| no_call | 1 (0) |" in text
    assert "| GRPO single-shot | 0.500 | 0.600 | 0.500 | 0.500 | - | - | - |" in text
    paths = plot(report, tmp_path)
    assert all(Path(p).stat().st_size > 1000 for p in paths)


def test_single_shot_arm_overrides_load_on_the_study_config() -> None:
    from grpo_rag.sections import load_config
    from grpo_rag.studies.multiturn_real import SINGLE

    multi = load_config("configs/multiturn-real.yaml")
    single = load_config("configs/multiturn-real.yaml", SINGLE)
    assert multi.rollout.mode == "multi_turn" and single.rollout.mode == "single"
    # the same passage budget: top-k in the prompt = calls x passages per call
    assert single.retrieval.k == multi.rollout.max_calls * multi.rollout.k
    assert [r.name for r in single.rewards] == ["f1", "exact_match", "format"]
