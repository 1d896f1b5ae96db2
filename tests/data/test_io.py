"""Corpus/QA JSONL loading: every malformed input gives one DataError with path, line and field."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.data.io import MAX_LINE_BYTES, load_corpus, load_qa, write_jsonl
from grpo_rag.errors import DataError

P1 = '{"id": "p1", "text": "alpha"}'
Q1 = '{"id": "q1", "question": "what?", "answers": ["a"]}'

# (name, loader, file lines, expected line, expected field, text the message must contain)
MALFORMED: list[tuple[str, str, list[str], int | None, str | None, str]] = [
    ("bad json", "corpus", [P1, '{"id": "p2", "text": '], 2, None, "invalid JSON"),
    ("array line", "corpus", [P1, '["p2", "text"]'], 2, None, "expected a JSON object, got an array"),
    ("missing text", "corpus", [P1, "", '{"id": "p2"}'], 3, "text", "missing; expected a non-empty string"),
    (
        "numeric id",
        "corpus",
        ['{"id": 7, "text": "x"}'],
        1,
        "id",
        "expected a non-empty string, got a number",
    ),
    ("blank text", "corpus", ['{"id": "p1", "text": "  "}'], 1, "text", "got an empty string"),
    ("title not str", "corpus", ['{"id": "p1", "text": "x", "title": null}'], 1, "title", "got null"),
    ("empty domain", "corpus", ['{"id": "p1", "text": "x", "domain": ""}'], 1, "domain", "non-empty string"),
    (
        "duplicate id",
        "corpus",
        [P1, '{"id": "q", "text": "b"}', P1],
        3,
        "id",
        "duplicate id 'p1' (lines 1 and 3)",
    ),
    ("empty corpus", "corpus", ["", "  "], None, None, "empty corpus"),
    ("missing answers", "qa", [Q1, '{"id": "q2", "question": "x"}'], 2, "answers", "missing"),
    (
        "answers str",
        "qa",
        [Q1, Q1.replace("q1", "q2"), "", '{"id": "q3", "question": "x", "answers": "a"}'],
        4,
        "answers",
        "expected a non-empty list of strings",
    ),
    ("answers empty", "qa", ['{"id": "q1", "question": "x", "answers": []}'], 1, "answers", "non-empty list"),
    (
        "answers blank",
        "qa",
        ['{"id": "q1", "question": "x", "answers": [""]}'],
        1,
        "answers",
        "non-empty list",
    ),
    (
        "unanswerable with answers",
        "qa",
        ['{"id": "q1", "question": "x", "answers": ["a"], "answerable": false}'],
        1,
        "answers",
        "expected []",
    ),
    ("answerable int", "qa", [Q1[:-1] + ', "answerable": 1}'], 1, "answerable", "expected true or false"),
    ("gold ids str", "qa", [Q1[:-1] + ', "gold_ids": "p1"}'], 1, "gold_ids", "expected a list of strings"),
    (
        "gold id unknown",
        "qa",
        [Q1[:-1] + ', "gold_ids": ["p1", "zz"]}'],
        1,
        "gold_ids",
        "'zz' is not in the corpus",
    ),
    ("missing question", "qa", ['{"id": "q1", "answers": ["a"]}'], 1, "question", "missing"),
    ("duplicate qid", "qa", [Q1, Q1], 2, "id", "duplicate id 'q1' (lines 1 and 2)"),
    ("empty qa", "qa", [], None, None, "empty QA file"),
]


def _load(kind: str, path: Path) -> Any:
    return load_corpus(path) if kind == "corpus" else load_qa(path, corpus_ids=["p1", "p2"])


@pytest.mark.parametrize(
    ("kind", "lines", "line", "field", "text"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_input_names_path_line_and_field(
    tmp_path: Path, kind: str, lines: list[str], line: int | None, field: str | None, text: str
) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text("\n".join(lines) + ("\n" if lines else ""), encoding="utf-8")
    with pytest.raises(DataError) as info:
        _load(kind, path)
    message = str(info.value)
    where = f"{path}:{line}:" if line is not None else f"{path}:"
    assert message.startswith(where), message
    assert text in message
    if field is not None:
        assert f"field '{field}':" in message
    assert (info.value.line, info.value.field) == (line, field)


def test_exact_message_for_wrong_answers_type(tmp_path: Path) -> None:
    path = tmp_path / "qa.jsonl"
    path.write_text("\n" * 6 + '{"id": "q", "question": "x", "answers": 3}\n', encoding="utf-8")
    with pytest.raises(DataError) as info:
        load_qa(path)
    assert str(info.value) == f"{path}:7: field 'answers': expected a non-empty list of strings"


def test_invalid_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_bytes(P1.encode() + b'\n{"id": "p2", "text": "caf\xe9"}\n')
    with pytest.raises(DataError, match=r":2: not valid UTF-8"):
        load_corpus(path)


def test_overlong_line_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        P1 + "\n" + json.dumps({"id": "p2", "text": "x" * MAX_LINE_BYTES}) + "\n", encoding="utf-8"
    )
    with pytest.raises(DataError, match=r":2: line is longer than 1 MiB"):
        load_corpus(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="file not found"):
        load_corpus(tmp_path / "nope.jsonl")
    with pytest.raises(DataError, match="file not found"):
        load_qa(tmp_path / "nope.jsonl")


def test_load_corpus_defaults_and_extra_keys(tmp_path: Path) -> None:
    path = tmp_path / "c.jsonl"
    path.write_text(
        '\ufeff{"id": "p1", "text": "alpha", "extra": {"ignored": true}}\n\n'
        '{"id": "p2", "text": "beta", "title": "B", "domain": "news"}\n',
        encoding="utf-8",
    )
    corpus = load_corpus(path)
    assert corpus.column_names == ["id", "text", "title", "domain"]
    assert corpus.to_list() == [
        {"id": "p1", "text": "alpha", "title": "", "domain": "default"},
        {"id": "p2", "text": "beta", "title": "B", "domain": "news"},
    ]


def test_tiny_fixtures_load(tiny_corpus_path: Path, tiny_qa_path: Path, tiny_qa_rows: list[dict]) -> None:
    corpus = load_corpus(tiny_corpus_path)
    assert len(corpus) == 20
    assert sorted(set(corpus["domain"])) == ["datacenter", "mobility"]
    qa = load_qa(tiny_qa_path, corpus_ids=corpus["id"])
    assert len(qa) == len(tiny_qa_rows)
    assert qa[0]["gold_ids"] == ["dc-03"] and qa[0]["answerable"] is True
    last = qa[len(qa) - 1]
    assert (last["answers"], last["answerable"], last["gold_ids"], last["domain"]) == (
        [],
        False,
        [],
        "default",
    )
    assert str(qa.features["gold_ids"]) == "List(Value('string'))"


def test_write_jsonl_roundtrip_and_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "rows.jsonl"
    rows = [{"id": "p1", "text": "Zürich ✓"}, {"id": "p2", "text": "b"}]
    assert write_jsonl(path, rows) == 2
    assert load_corpus(path)["text"] == ["Zürich ✓", "b"]
    assert "Zürich" in path.read_text(encoding="utf-8")

    def broken() -> Any:
        yield {"id": "new", "text": "partial"}
        raise RuntimeError("generator failed")

    with pytest.raises(RuntimeError):
        write_jsonl(path, broken())
    assert load_corpus(path)["id"] == ["p1", "p2"]  # old file untouched
    assert os.listdir(path.parent) == ["rows.jsonl"]  # no temp file left behind


# --- property-based: any valid rows round-trip; any arbitrary bytes load or fail with a DataError -------
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

_text = st.text(min_size=1, max_size=40).filter(lambda s: s.strip() != "")
_qa_rows = st.lists(
    st.fixed_dictionaries(
        {"question": _text, "answers": st.lists(_text, min_size=1, max_size=3), "domain": _text}
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=_qa_rows)
def test_qa_rows_round_trip(tmp_path: Path, rows: list[dict[str, Any]]) -> None:
    rows = [{"id": f"q{i}", **row} for i, row in enumerate(rows)]
    path = tmp_path / "qa.jsonl"
    write_jsonl(path, rows)
    loaded = load_qa(path)
    assert loaded["question"] == [r["question"] for r in rows]
    assert loaded["answers"] == [r["answers"] for r in rows]
    assert loaded["domain"] == [r["domain"] for r in rows]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(blob=st.binary(max_size=300))
def test_arbitrary_bytes_load_or_raise_data_error(tmp_path: Path, blob: bytes) -> None:
    path = tmp_path / "corpus.jsonl"
    path.write_bytes(blob)
    try:
        corpus = load_corpus(path)
    except DataError as exc:
        assert str(exc).startswith(str(path))
    else:
        assert len(corpus) >= 1
