"""Converters on hand-made source files, the by-passage split, and the shipped data/real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.data.convert import (
    SOURCES,
    convert_all,
    convert_pubmedqa,
    convert_squadshifts,
    convert_tatqa,
    linearise_table,
    split_by_passage,
)
from grpo_rag.data.io import load_corpus, load_qa, write_jsonl
from grpo_rag.errors import DataError

REAL = Path(__file__).resolve().parents[2] / "data" / "real"


def _dump(path: Path, obj: Any) -> Path:
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


SQUAD = {
    "version": "1.0",
    "data": [
        {
            "title": "Lake_Geneva",
            "paragraphs": [
                {
                    "context": "Lake Geneva lies between Switzerland and France.\n",
                    "qas": [
                        {
                            "id": "abc",
                            "question": "Which countries border the lake?",
                            "answers": [
                                {"text": "Switzerland and France", "answer_start": 25},
                                {"text": "Switzerland and France ", "answer_start": 25},
                                {"text": "France", "answer_start": 41},
                            ],
                        }
                    ],
                },
                {"context": "It is fed by the Rhone.", "qas": []},
            ],
        },
        {"title": "Other", "paragraphs": [{"context": "Second article.", "qas": []}]},
    ],
}

PUBMED = {
    "111": {
        "QUESTION": "Does coffee help?",
        "CONTEXTS": ["Background text.", "Results text."],
        "final_decision": "maybe",
    },
    "222": {"QUESTION": "Is sleep good?", "CONTEXTS": ["Sleep matters."], "final_decision": "yes"},
}

TATQA = [
    {
        "table": {"uid": "t", "table": [["", "2019", "2018"], ["", "", ""], ["Sales", "$10", "$8"]]},
        "paragraphs": [
            {"uid": "a", "order": 1, "text": "Sales grew because of pricing."},
            {"uid": "b", "order": 2, "text": "Segments are Retail, Wholesale and Online."},
        ],
        "questions": [
            {"uid": "u1", "question": "Why did sales grow?", "answer": ["pricing"], "answer_type": "span",
             "answer_from": "text", "rel_paragraphs": ["1"]},
            {"uid": "u2", "question": "What are the segments?", "answer": ["Retail", "Wholesale", "Online", ""],
             "answer_type": "multi-span", "answer_from": "text", "rel_paragraphs": ["2"]},
            {"uid": "u3", "question": "Sales in 2019?", "answer": ["$10"], "answer_type": "span",
             "answer_from": "table-text", "rel_paragraphs": ["1"]},
            {"uid": "u4", "question": "Sales in 2018?", "answer": ["$8"], "answer_type": "span",
             "answer_from": "table", "rel_paragraphs": []},
            {"uid": "u5", "question": "Change?", "answer": 2, "answer_type": "arithmetic",
             "answer_from": "table", "rel_paragraphs": []},
        ],
    }
]  # fmt: skip


def test_squadshifts(tmp_path: Path) -> None:
    corpus, qa = convert_squadshifts(_dump(tmp_path / "s.json", SQUAD), "wikipedia")
    assert [p["id"] for p in corpus] == ["wikipedia:0000:0000", "wikipedia:0000:0001", "wikipedia:0001:0000"]
    assert corpus[0] == {
        "id": "wikipedia:0000:0000",
        "title": "Lake Geneva",
        "text": "Lake Geneva lies between Switzerland and France.",
        "domain": "wikipedia",
    }
    assert qa == [
        {
            "id": "wikipedia:abc",
            "question": "Which countries border the lake?",
            "answers": ["Switzerland and France", "France"],
            "domain": "wikipedia",
            "gold_ids": ["wikipedia:0000:0000"],
        }
    ]


def test_pubmedqa(tmp_path: Path) -> None:
    corpus, qa = convert_pubmedqa(_dump(tmp_path / "p.json", PUBMED))
    assert corpus[0] == {
        "id": "pubmedqa:111",
        "title": "",
        "text": "Background text. Results text.",
        "domain": "pubmedqa",
    }
    assert [(q["id"], q["answers"], q["gold_ids"]) for q in qa] == [
        ("pubmedqa:q111", ["maybe"], ["pubmedqa:111"]),
        ("pubmedqa:q222", ["yes"], ["pubmedqa:222"]),
    ]


def test_tatqa(tmp_path: Path) -> None:
    corpus, qa = convert_tatqa(_dump(tmp_path / "t.json", TATQA))
    assert [p["id"] for p in corpus] == ["tatqa:0000:table", "tatqa:0000:p01", "tatqa:0000:p02"]
    assert corpus[0]["text"] == " | 2019 | 2018\nSales | $10 | $8"
    by_id = {q["id"]: q for q in qa}
    assert sorted(by_id) == ["tatqa:u1", "tatqa:u2", "tatqa:u3", "tatqa:u4"]  # arithmetic dropped
    assert by_id["tatqa:u2"]["answers"] == ["Retail, Wholesale, Online"]
    assert by_id["tatqa:u1"]["gold_ids"] == ["tatqa:0000:p01"]
    assert by_id["tatqa:u3"]["gold_ids"] == ["tatqa:0000:table", "tatqa:0000:p01"]
    assert by_id["tatqa:u4"]["gold_ids"] == ["tatqa:0000:table"]


def test_linearise_table_drops_empty_rows() -> None:
    assert linearise_table([["a", 1], [" ", ""], ["b", 2.5]]) == "a | 1\nb | 2.5"


def test_converted_rows_load_with_validators(tmp_path: Path) -> None:
    corpus, qa = convert_tatqa(_dump(tmp_path / "t.json", TATQA))
    write_jsonl(tmp_path / "c.jsonl", corpus)
    write_jsonl(tmp_path / "q.jsonl", qa)
    loaded = load_qa(tmp_path / "q.jsonl", corpus_ids=load_corpus(tmp_path / "c.jsonl")["id"])
    assert len(loaded) == 4


def test_bad_source_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        convert_pubmedqa(tmp_path / "missing.json")
    (tmp_path / "broken.json").write_text("{", encoding="utf-8")
    with pytest.raises(DataError, match="not a valid JSON file"):
        convert_tatqa(tmp_path / "broken.json")
    with pytest.raises(DataError, match="expected SQuAD v1.1 format"):
        convert_squadshifts(_dump(tmp_path / "x.json", {"articles": []}), "reddit")


def _synthetic_qa(n_passages: int, per_passage: int, domain: str = "d") -> list[dict[str, Any]]:
    return [
        {
            "id": f"{domain}:q{p}-{j}",
            "question": "?",
            "answers": ["a"],
            "domain": domain,
            "gold_ids": [f"{domain}:{p}"],
        }
        for p in range(n_passages)
        for j in range(per_passage)
    ]


def test_split_is_by_passage_deterministic_and_capped() -> None:
    rows = _synthetic_qa(400, 3)
    # Two questions sharing a passage with different groups link them into one group.
    rows.append({"id": "link", "question": "?", "answers": ["a"], "domain": "d", "gold_ids": ["d:0", "d:1"]})
    train, heldout = split_by_passage(rows, heldout_fraction=0.25, max_train=None, max_heldout=None)
    assert len(train) + len(heldout) == len(rows)
    train_gold = {g for r in train for g in r["gold_ids"]}
    assert not train_gold & {g for r in heldout for g in r["gold_ids"]}
    assert 0.15 < len(heldout) / len(rows) < 0.35
    again = split_by_passage(list(reversed(rows)), heldout_fraction=0.25, max_train=None, max_heldout=None)
    assert {r["id"] for r in again[1]} == {r["id"] for r in heldout}  # order-independent

    extra = _synthetic_qa(50, 2, "e")
    capped_train, capped_heldout = split_by_passage(rows + extra, max_train=100, max_heldout=30)
    for domain, cap_t, cap_h in (("d", 100, 30), ("e", 100, 30)):
        n_t = sum(r["domain"] == domain for r in capped_train)
        n_h = sum(r["domain"] == domain for r in capped_heldout)
        assert n_t <= cap_t and n_h <= cap_h
    assert sum(r["domain"] == "d" for r in capped_train) == 100
    assert sum(r["domain"] == "e" for r in capped_train + capped_heldout) == 100  # under the caps: all kept
    assert {r["id"] for r in capped_heldout if r["domain"] == "d"} <= {r["id"] for r in heldout}


def test_split_puts_questions_without_gold_by_their_own_id() -> None:
    rows = _synthetic_qa(3, 1) + [
        {"id": f"nogold{i}", "question": "?", "answers": ["a"], "domain": "d", "gold_ids": []}
        for i in range(40)
    ]
    train, heldout = split_by_passage(rows, max_train=None, max_heldout=None)
    ids = {r["id"] for r in heldout if not r["gold_ids"]}
    assert 0 < len(ids) < 40  # spread over both sides, not all in one
    assert split_by_passage(rows, max_train=None, max_heldout=None) == (train, heldout)  # deterministic


def test_convert_all_checks_ids_across_sources(tmp_path: Path) -> None:
    for source in SOURCES:
        (tmp_path / source.relpath).parent.mkdir(parents=True, exist_ok=True)
        data = {"squadshifts": SQUAD, "pubmedqa": PUBMED, "tatqa": TATQA}[source.relpath.split("/")[0]]
        _dump(tmp_path / source.relpath, data)
    corpus, qa = convert_all(tmp_path)
    assert {p["domain"] for p in corpus} == {"wikipedia", "reddit", "amazon", "pubmedqa", "tatqa"}
    assert len({p["id"] for p in corpus}) == len(corpus) == 3 * 3 + 2 + 3
    assert len({q["id"] for q in qa}) == len(qa)


@pytest.mark.skipif(not (REAL / "corpus.jsonl").exists(), reason="data/real not generated")
def test_shipped_real_data_loads_and_is_split_by_passage() -> None:
    corpus = load_corpus(REAL / "corpus.jsonl")
    ids = set(corpus["id"])
    train = load_qa(REAL / "train.jsonl", corpus_ids=ids)
    heldout = load_qa(REAL / "heldout.jsonl", corpus_ids=ids)
    assert set(corpus["domain"]) == {"wikipedia", "reddit", "amazon", "pubmedqa", "tatqa"}
    assert len(corpus) > 8000
    train_gold = {g for gold in train["gold_ids"] for g in gold}
    assert not train_gold & {g for gold in heldout["gold_ids"] for g in gold}
    assert not set(train["id"]) & set(heldout["id"])
    for split, cap in ((train, 1000), (heldout, 300)):
        counts = {d: split["domain"].count(d) for d in set(split["domain"])}
        assert len(counts) == 5 and max(counts.values()) <= cap
    total = sum((REAL / f).stat().st_size for f in ("corpus.jsonl", "train.jsonl", "heldout.jsonl"))
    assert total < 15_000_000
