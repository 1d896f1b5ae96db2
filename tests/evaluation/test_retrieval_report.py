"""`retrieval-report`: recall@k by gold ids or by answer presence, per domain, no caps, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from datasets import Dataset

from grpo_rag.cli import main as cli
from grpo_rag.data.io import QA_FEATURES
from grpo_rag.errors import GrpoRagError
from grpo_rag.evaluation.retrieval_report import ReportOptions, parse_ks, retrieval_report
from grpo_rag.retrieval.bm25 import BM25Retriever

CORPUS = [
    {"id": "p1", "title": "", "text": "The pump station runs at 42 degrees.", "domain": "ops"},
    {"id": "p2", "title": "", "text": "The pump has a blue handle.", "domain": "ops"},
    {"id": "p3", "title": "", "text": "Invoices are paid in 30 days.", "domain": "finance"},
    {"id": "p4", "title": "", "text": "Late invoices cost a fee of 5 euros.", "domain": "finance"},
]


def qa(rows: list[dict]) -> Dataset:
    full = [{"gold_ids": [], "answerable": True, "domain": "default", **r} for r in rows]
    return Dataset.from_list(full, features=QA_FEATURES)


@pytest.fixture
def retriever() -> BM25Retriever:
    return BM25Retriever.build(Dataset.from_list(CORPUS))


def test_recall_by_ids_per_domain(retriever: BM25Retriever) -> None:
    questions = qa(
        [
            {"id": "a", "question": "pump station degrees", "answers": ["42 degrees"], "gold_ids": ["p1"], "domain": "ops"},
            {"id": "b", "question": "pump handle colour", "answers": ["blue"], "gold_ids": ["p1"], "domain": "ops"},
            {"id": "c", "question": "late invoice fee", "answers": ["5 euros"], "gold_ids": ["p4"], "domain": "finance"},
        ]
    )  # fmt: skip
    report = retrieval_report(retriever, questions, ReportOptions((1, 5)))
    rows = report["rows"]
    assert rows["ops"]["recall"] == {"1": 0.5, "5": 1.0}  # b's gold p1 is ranked below p2
    assert rows["finance"]["recall"] == {"1": 1.0, "5": 1.0}
    assert (
        rows["all"]["n"] == 3
        and rows["all"]["by_ids"] == 3
        and rows["all"]["recall"]["1"] == pytest.approx(0.6667)
    )


def test_answer_presence_when_no_ids_and_no_domains(retriever: BM25Retriever) -> None:
    questions = qa(
        [
            {"id": "a", "question": "pump station degrees", "answers": ["42 Degrees"]},
            {"id": "b", "question": "invoices paid", "answers": ["unicorn"]},
            {"id": "c", "question": "anything", "answers": [], "answerable": False},
        ]
    )
    report = retrieval_report(retriever, questions, ReportOptions((1,)))
    assert list(report["rows"]) == ["all"]  # questions without domains: one row, not n=0
    row = report["rows"]["all"]
    assert (row["n"], row["by_answers"], row["skipped"]) == (2, 2, 1)  # the unanswerable one is left out
    assert row["recall"]["1"] == 0.5


def test_own_domain_refuses_unknown_domains(retriever: BM25Retriever) -> None:
    questions = qa([{"id": "a", "question": "pump", "answers": ["x"]}])
    with pytest.raises(GrpoRagError, match="--own-domain: question domain.*default"):
        retrieval_report(retriever, questions, ReportOptions((1,), own_domain=True))


def test_parse_ks() -> None:
    assert parse_ks("10,1,5,5") == (1, 5, 10)
    for bad in ("a,b", "0,5", ""):
        with pytest.raises(GrpoRagError, match="--k"):
            parse_ks(bad)


def test_cli_report_and_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps(r) + "\n" for r in CORPUS))
    qa_path = tmp_path / "qa.jsonl"
    qa_path.write_text(json.dumps({"id": "a", "question": "late invoice fee", "answers": ["5 euros"]}) + "\n")
    out = tmp_path / "rep"
    assert (
        cli(
            [
                "retrieval-report",
                "--corpus",
                str(corpus),
                "--qa",
                str(qa_path),
                "--k",
                "1,2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    printed = capsys.readouterr().out
    assert "| all | 1 | 1.000 | 1.000 | 0 | 1 | 0 |" in printed
    assert json.loads((out / "retrieval_report.json").read_text())["rows"]["all"]["recall"] == {
        "1": 1.0,
        "2": 1.0,
    }
    assert cli(["retrieval-report", "--corpus", str(corpus), "--qa", str(qa_path), "--k", "x"]) == 2
    assert capsys.readouterr().err.startswith("error: --k: expected comma-separated integers")
