"""Evaluation: metrics contract, ablations, aggregation by domain."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.evaluation.evaluate import aggregate, evaluate, label_questions, report_markdown, score_rows
from grpo_rag.pipeline.prepare import PromptOptions, attach_context
from grpo_rag.retrieval.bm25 import BM25Retriever
from grpo_rag.sections import from_dict

KEYS = ("exact_match", "f1", "grounded", "recall_at_k", "n")


def test_base_model_eval_writes_contract(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    cfg = from_dict(copy.deepcopy(tiny_run))
    metrics = evaluate(cfg, None, tmp_path / "eval")
    saved = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert saved == metrics
    for key in KEYS:
        assert key in saved
        for dom in ("datacenter", "mobility", "default"):
            assert key in saved["per_domain"][dom]
    assert saved["n"] == 5 and saved["per_domain"]["datacenter"]["n"] == 2
    assert "| **all** |" in (tmp_path / "eval" / "report.md").read_text()
    preds = (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines()
    assert len(preds) == 5


def test_ablations(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    cfg = from_dict(copy.deepcopy(tiny_run))
    oracle = evaluate(cfg, None, tmp_path / "oracle", context="oracle")
    assert oracle["recall_at_k"] == 1.0
    closed = evaluate(cfg, None, tmp_path / "closed", context="closed_book")
    # No passages: nothing was retrieved, and grounding is undefined (None), not a score of 0.
    assert closed["recall_at_k"] == 0.0 and closed["grounded"] is None


def test_score_rows_uses_shared_scoring(tiny_corpus_path: Path, tiny_qa_path: Path) -> None:
    corpus = load_corpus(tiny_corpus_path)
    qa = load_qa(tiny_qa_path, set(corpus["id"]))
    prepared = attach_context(qa, BM25Retriever.build(corpus), PromptOptions(k=2))
    row = prepared[0]
    n = row["passage_ids"].index("dc-03") + 1
    completions = [
        f"<answer>within ten seconds</answer> [{n}]",
        "",
        "<answer>wrong</answer>",
        "<answer>x</answer>",
        "<answer>unanswerable</answer>",
    ]
    scores = score_rows(prepared, completions)
    assert scores[0]["exact_match"] == 1.0 and scores[0]["grounded"] == 1.0
    assert scores[1]["exact_match"] == 0.0 and scores[1]["well_formed"] == 0.0
    assert scores[4]["exact_match"] == 1.0  # abstaining on the unanswerable question is correct
    assert math.isnan(scores[4]["recall_at_k"])  # no gold ids: recall is undefined, not zero


def test_aggregate_per_domain_and_nan() -> None:
    rows = [
        {"exact_match": 1.0, "recall_at_k": 1.0},
        {"exact_match": 0.0, "recall_at_k": float("nan")},
        {"exact_match": 0.0, "recall_at_k": 0.0},
    ]
    rows = [
        {
            **{
                m: 0.0
                for m in (
                    "f1",
                    "lenient_exact_match",
                    "lenient_f1",
                    "grounded",
                    "citation_precision",
                    "citation_recall",
                    "abstained",
                    "well_formed",
                    "answer_tokens",
                )
            },
            **r,
        }
        for r in rows
    ]
    m = aggregate(rows, ["a", "a", "b"])
    assert m["n"] == 3 and m["exact_match"] == pytest.approx(1 / 3, abs=1e-4)
    assert m["recall_at_k"] == 0.5
    assert m["per_domain"]["a"]["exact_match"] == 0.5 and m["per_domain"]["b"]["n"] == 1
    assert "| a | 2 |" in report_markdown(m, "t")


def test_label_questions_shows_a_constant_answer_for_what_it_is() -> None:
    # Five yes/no questions (3 yes, 2 no) answered "yes" every time, and one span question that is ignored.
    answers = [["yes"], ["Yes"], ["yes"], ["no"], ["no"], ["480 kW"]]
    completions = ["<answer>yes</answer> [1]"] * 4 + ["Yes."] + ["<answer>yes</answer>"]
    domains = ["pubmedqa"] * 5 + ["wikipedia"]
    got = label_questions(answers, completions, domains)
    assert set(got) == {"pubmedqa"}
    assert got["pubmedqa"] == {
        "n": 5,
        "majority_label": "yes",
        "majority_exact_match": 0.6,
        "top_prediction": "yes",  # the untagged "Yes." is read leniently, as the lenient EM reads it
        "top_prediction_share": 1.0,
    }
    mixed = label_questions(
        answers[:5], ["<answer>no</answer>"] * 2 + ["<answer>yes</answer>"] * 3, domains[:5]
    )
    assert mixed["pubmedqa"]["top_prediction_share"] == 0.6
    assert label_questions([["480 kW"]], ["<answer>yes</answer>"], ["wikipedia"]) == {}
