"""`import`: SQuAD v1/v2 with chunked contexts and tolerant answer_start, TAT-QA, plain JSONL, gold by answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grpo_rag.cli import main as cli
from grpo_rag.data.chunking import word_counter
from grpo_rag.data.importers import gold_from_answers, import_jsonl, import_squad, locate
from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.errors import DataError

LONG = " ".join(f"Filler sentence {i} says nothing." for i in range(60)) + " The valve opens at 9 bar."


def squad_file(tmp_path: Path, version: str = "v1.1") -> Path:
    context = LONG
    start = context.index("9 bar")
    qas = [
        {
            "id": "q1",
            "question": "When does the valve open?",
            "answers": [{"text": "9 bar", "answer_start": start}],
        },
        # off by three characters: still the same span
        {
            "id": "q2",
            "question": "Pressure of the valve?",
            "answers": [{"text": "9 bar", "answer_start": start - 3}],
        },
        {"id": "q3", "question": "What is absent?", "answers": [{"text": "unicorn", "answer_start": 0}]},
    ]
    if version == "v2.0":
        qas.append({"id": "q4", "question": "Who built it?", "answers": [], "is_impossible": True})
    data = {
        "version": version,
        "data": [{"title": "Valve_Manual", "paragraphs": [{"context": context, "qas": qas}]}],
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(data))
    return path


def test_locate_tolerates_a_wrong_start() -> None:
    assert locate("abc 9 bar", "9 bar", 4) == (4, 0)
    assert locate("abc 9 bar", "9 bar", 1) == (4, 3)
    assert locate("abc", "9 bar", 0) is None


def test_squad_long_context_is_chunked_and_gold_is_the_span_chunk(tmp_path: Path) -> None:
    corpus, qa, report = import_squad(squad_file(tmp_path), "manuals", 40, 5, word_counter)
    assert len(corpus) > 3 and all(n <= 40 for n in word_counter([c["text"] for c in corpus]))
    by_id = {r["id"]: r for r in qa}
    gold = by_id["manuals:q1"]["gold_ids"]
    texts = {c["id"]: c["text"] for c in corpus}
    assert gold and all("9 bar" in texts[g] for g in gold)
    assert by_id["manuals:q2"]["gold_ids"] == gold and report.shifted_starts == 1
    # the answer is nowhere in the context: the question stays, with no gold passage, and is counted
    assert by_id["manuals:q3"]["gold_ids"] == [] and report.answers_not_in_context == 1
    assert corpus[0]["title"] == "Valve Manual" and corpus[0]["id"] == "manuals:0000:0000#0000"


def test_squad_v2_unanswerable_becomes_abstain(tmp_path: Path) -> None:
    corpus, qa, report = import_squad(squad_file(tmp_path, "v2.0"), "m", 400, 0, word_counter)
    row = next(r for r in qa if r["id"] == "m:q4")
    assert row["answerable"] is False and row["answers"] == [] and report.unanswerable == 1


def test_squad_wrong_format_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "x.json"
    path.write_text('{"data": [{"paragraphs": [{"qas": []}]}]}')
    with pytest.raises(DataError, match="not in the SQuAD format"):
        import_squad(path, "d", 100, 0, word_counter)
    path.write_text('{"a": 1}\n{"b": 2}\n')
    with pytest.raises(DataError, match="that is JSONL: use `grpo-rag import jsonl`"):
        import_squad(path, "d", 100, 0, word_counter)


def test_gold_from_answers_matches_normalised_text_in_the_domain() -> None:
    corpus = [
        {"id": "a", "text": "The Valve opens at 9 bar.", "domain": "x"},
        {"id": "b", "text": "9 barrels of oil", "domain": "x"},  # not the phrase "9 bar"
        {"id": "c", "text": "valve 9 bar", "domain": "y"},  # other domain
    ]
    qa = [
        {"id": "1", "answers": ["9 BAR!"], "gold_ids": [], "domain": "x"},
        {"id": "2", "answers": ["unicorn"], "gold_ids": [], "domain": "x"},
        {"id": "3", "answers": ["9 bar"], "gold_ids": ["keep"], "domain": "x"},
    ]
    assert gold_from_answers(qa, corpus) == 1
    assert [r["gold_ids"] for r in qa] == [["a"], [], ["keep"]]


def test_import_jsonl_rows(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "Q1?", "answer": "A"}\n\n{"id": "x", "question": "Q2?", "answers": []}\n')
    qa, report = import_jsonl(path, "d")
    assert [r["id"] for r in qa] == ["qa:1", "x"] and qa[1]["answerable"] is False
    path.write_text('{"question": "Q1?", "answers": 3}\n')
    with pytest.raises(DataError, match=r"qa.jsonl:1: field 'answers': expected 'answers'"):
        import_jsonl(path, "d")


def test_cli_import_squad_writes_loadable_split(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out"
    argv = ["import", "squad", str(squad_file(tmp_path, "v2.0")), "--out", str(out), "--tokenizer", "words"]
    assert cli([*argv, "--chunk-tokens", "40", "--overlap", "4", "--domain", "manuals"]) == 0
    printed = capsys.readouterr().out
    assert "4 questions (1 unanswerable)" in printed and "1 answers do not occur" in printed
    assert "warning: 1 of 4 questions have no gold passage" in printed
    ids = set(load_corpus(out / "corpus.jsonl")["id"])
    assert len(load_qa(out / "qa.jsonl", corpus_ids=ids)) == 4
    # one context: the questions that share it cannot be split, and the command says so
    assert "no train/held-out split written" in printed and not (out / "train.jsonl").exists()


def test_cli_import_squad_split_by_passage(tmp_path: Path) -> None:
    paragraphs = [
        {"context": f"Station {i} runs at {i} degrees.", "qas": [
            {"id": f"q{i}", "question": f"Station {i} temperature?",
             "answers": [{"text": f"{i} degrees", "answer_start": len(f"Station {i} runs at ")}]}]}
        for i in range(40)
    ]  # fmt: skip
    src = tmp_path / "s.json"
    src.write_text(json.dumps({"data": [{"title": "t", "paragraphs": paragraphs}]}))
    out = tmp_path / "out"
    assert cli(["import", "squad", str(src), "--out", str(out), "--tokenizer", "words"]) == 0
    ids = set(load_corpus(out / "corpus.jsonl")["id"])
    train, held = (load_qa(out / f, corpus_ids=ids) for f in ("train.jsonl", "heldout.jsonl"))
    assert len(train) + len(held) == 40 and len(held) > 0
    assert not {g for r in train for g in r["gold_ids"]} & {g for r in held for g in r["gold_ids"]}


def test_cli_import_jsonl_gold_by_answers(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text(
        '{"id": "p1", "text": "The pump runs at 42 degrees."}\n{"id": "p2", "text": "Other."}\n'
    )
    qa = tmp_path / "qa.jsonl"
    qa.write_text(
        '{"question": "Pump temperature?", "answers": ["42 degrees"]}\n{"question": "Q?", "answers": ["zz"]}\n'
    )
    out = tmp_path / "out"
    assert (
        cli(
            [
                "import",
                "jsonl",
                str(qa),
                "--out",
                str(out),
                "--corpus",
                str(corpus),
                "--heldout-fraction",
                "0",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in (out / "qa.jsonl").read_text().splitlines()]
    assert [r["gold_ids"] for r in rows] == [["p1"], []]
    printed = capsys.readouterr().out
    assert "gold passages by answer match: 1 questions" in printed
    assert "warning: 1 of 2 questions have no gold passage" in printed
    assert not (out / "corpus.jsonl").exists()  # the user's corpus is not copied


def test_cli_import_jsonl_without_corpus_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    qa = tmp_path / "qa.jsonl"
    qa.write_text('{"question": "Q?", "answers": ["A"]}\n')
    assert cli(["import", "jsonl", str(qa), "--out", str(tmp_path / "o")]) == 2
    assert "give --corpus CORPUS.jsonl" in capsys.readouterr().err
