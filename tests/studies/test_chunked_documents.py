"""The chunked-documents study on tiny SQuADShifts-shaped files: it runs end to end and its figures add up."""

from __future__ import annotations

import json
from pathlib import Path

from grpo_rag.data.convert import SOURCES, convert_squadshifts, split_by_passage
from grpo_rag.data.io import write_jsonl
from grpo_rag.studies.chunked_documents import DOMAINS, run


def _article(domain: str, a: int) -> dict:
    paragraphs = []
    for p in range(3):
        fact = f"{domain} unit {a}{p} measures {a * 10 + p} kelvin"
        context = f"Intro sentence about {domain} {a} {p}. The {fact}. Closing remark here."
        paragraphs.append(
            {"context": context, "qas": [{"id": f"{domain}{a}{p}", "question": f"What does {domain} unit {a}{p} measure?",
             "answers": [{"text": f"{a * 10 + p} kelvin", "answer_start": context.index(f"{a * 10 + p} kelvin")}]}]}
        )  # fmt: skip
    return {"title": f"{domain} {a}", "paragraphs": paragraphs}


def test_study_runs_and_reports_every_domain(tmp_path: Path) -> None:
    src, real = tmp_path / "src", tmp_path / "real"
    corpus, qa = [], []
    for source in SOURCES:
        if source.domain not in DOMAINS:
            continue
        path = src / source.relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({"data": [_article(source.domain, a) for a in range(4)]}))
        c, q = convert_squadshifts(path, source.domain)
        corpus += c
        qa += q
    _, heldout = split_by_passage(qa, heldout_fraction=0.5, max_train=None, max_heldout=None)
    write_jsonl(real / "corpus.jsonl", corpus)
    write_jsonl(real / "heldout.jsonl", heldout)
    result = run(src, real, tmp_path / "out", 12, 2, (1, 5), tokenizer="words")
    assert result["largest_chunk_tokens"] <= 12
    assert result["chunks"] > len(corpus)  # 12-token chunks split paragraphs
    for report in result["reports"].values():
        assert report["rows"]["all"]["n"] == len(heldout)
        assert 0.0 <= report["rows"]["all"]["recall"]["1"] <= report["rows"]["all"]["recall"]["5"] <= 1.0
    # the question's own words are in its passage: the paragraph corpus finds nearly all at 5
    assert result["reports"]["paragraphs (data/real, gold ids)"]["rows"]["all"]["recall"]["5"] >= 0.9
    assert (tmp_path / "out" / "report.md").read_text().startswith("| domain | n |")
