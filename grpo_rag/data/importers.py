"""`grpo-rag import`: common QA formats (SQuAD v1/v2, TAT-QA, plain JSONL) -> grpo-rag corpus and QA rows.

SQuAD contexts longer than the chunk budget are chunked as `ingest` does, and a question's gold passages
are the chunks that hold its answer span (found within a few characters of `answer_start` when the offset
is off). Questions without gold ids can get them by answer match (`--gold-from answers`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grpo_rag.data.chunking import TokenCounter, chunk_text
from grpo_rag.data.convert import convert_tatqa
from grpo_rag.data.io import DEFAULT_DOMAIN, iter_objects, load_corpus
from grpo_rag.errors import DataError
from grpo_rag.rewards.scoring import normalize_answer

Row = dict[str, Any]
FORMATS = ("squad", "tatqa", "jsonl")
#: How far (in characters) from `answer_start` an answer is still taken as that span.
START_TOLERANCE = 32


@dataclass
class ImportReport:
    """Counts of an import, and what could not be matched."""

    passages: int = 0
    questions: int = 0
    unanswerable: int = 0
    shifted_starts: int = 0  # answer found within START_TOLERANCE characters of its answer_start, not at it
    relocated_starts: int = 0  # answer_start further off: the occurrence nearest to it is taken
    answers_not_in_context: int = 0  # no occurrence in the context: the question keeps no gold passage
    without_gold: int = 0
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise DataError(path, "file not found") from None
    except json.JSONDecodeError as exc:
        hint = (
            "; one object per line? that is JSONL: use `grpo-rag import jsonl`"
            if exc.msg == "Extra data"
            else ""
        )
        raise DataError(path, f"not a JSON document: {exc.msg}{hint}", exc.lineno) from None
    except UnicodeDecodeError:
        raise DataError(path, "not valid UTF-8; re-save the file as UTF-8") from None


def locate(context: str, answer: str, start: int | None) -> tuple[int, int] | None:
    """Where `answer` is in `context`: (offset, distance from `start`), the occurrence nearest `start`.

    None when the context lacks the answer; distance 0 when `start` is right or absent.
    """
    if start is not None and context[start : start + len(answer)] == answer:
        return start, 0
    hits = []
    pos = context.find(answer)
    while pos != -1:
        hits.append(pos)
        pos = context.find(answer, pos + 1)
    if not hits:
        return None
    if start is None:
        return hits[0], 0
    best = min(hits, key=lambda h: abs(h - start))
    return best, abs(best - start)


def import_squad(
    path: str | Path,
    domain: str,
    chunk_tokens: int,
    overlap: int,
    count: TokenCounter,
    unit: str = "paragraph",
) -> tuple[list[Row], list[Row], ImportReport]:
    """SQuAD v1.1 / v2.0 JSON -> (corpus, qa, report); `unit` article joins an article's paragraphs first.

    v2 questions marked `is_impossible` become abstain questions (`answerable: false`, no answers), whose
    gold passages are the chunks of their context.
    """
    path = Path(path)
    if unit not in ("paragraph", "article"):
        raise DataError(path, f"--unit: expected paragraph or article, got {unit!r}")
    data = _read_json(path)
    corpus: list[Row] = []
    qa: list[Row] = []
    report = ImportReport()
    try:
        articles = data["data"]
        for a_idx, article in enumerate(articles):
            title = str(article.get("title", "")).replace("_", " ")
            groups = [[(p_idx, par)] for p_idx, par in enumerate(article["paragraphs"])]
            if unit == "article":
                groups = [[(p_idx, par) for p_idx, par in enumerate(article["paragraphs"])]]
            for group in groups:
                doc = f"{domain}:{a_idx:04d}" + (f":{group[0][0]:04d}" if unit == "paragraph" else "")
                _squad_document(doc, title, group, domain, chunk_tokens, overlap, count, corpus, qa, report)
    except (KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            path, f"not in the SQuAD format ({type(exc).__name__}: {exc}); expected {{'data': [...]}}"
        ) from None
    report.passages, report.questions = len(corpus), len(qa)
    return corpus, qa, report


def _squad_document(
    doc: str,
    title: str,
    paragraphs: list[tuple[int, dict[str, Any]]],
    domain: str,
    chunk_tokens: int,
    overlap: int,
    count: TokenCounter,
    corpus: list[Row],
    qa: list[Row],
    report: ImportReport,
) -> None:
    """Chunk one document (a paragraph, or an article's paragraphs joined) and attach its questions."""
    text, offsets = "", []
    for _, par in paragraphs:
        if text:
            text += "\n\n"
        offsets.append(len(text))
        text += par["context"]
    chunks = chunk_text(text, chunk_tokens, overlap, count)
    ids = [f"{doc}#{i:04d}" for i in range(len(chunks))]
    corpus += [
        {"id": i, "title": title, "text": c.text, "domain": domain} for i, c in zip(ids, chunks, strict=True)
    ]
    for (_, par), base in zip(paragraphs, offsets, strict=True):
        end = base + len(par["context"])
        own = [i for i, c in zip(ids, chunks, strict=True) if c.start < end and c.end > base]
        for item in par["qas"]:
            question = str(item["question"]).strip()
            if not question:
                continue
            qid = f"{domain}:{item['id']}"
            if item.get("is_impossible", False) or not item["answers"]:
                report.unanswerable += 1
                qa.append(_qa(qid, question, [], domain, own, answerable=False))
                continue
            answers: list[str] = []
            gold: list[str] = []
            for ans in item["answers"]:
                answer = str(ans["text"]).strip()
                if not answer:
                    continue
                if answer not in answers:
                    answers.append(answer)
                start = ans.get("answer_start")
                found = locate(par["context"], answer, int(start) if start is not None else None)
                if found is None:
                    report.answers_not_in_context += 1
                    continue
                report.shifted_starts += 0 < found[1] <= START_TOLERANCE
                report.relocated_starts += found[1] > START_TOLERANCE
                s, e = base + found[0], base + found[0] + len(answer)
                inside = [i for i, c in zip(ids, chunks, strict=True) if c.start <= s and e <= c.end]
                if not inside:  # the span straddles a chunk boundary: the chunk holding most of it
                    best = max(
                        range(len(chunks)), key=lambda k: min(e, chunks[k].end) - max(s, chunks[k].start)
                    )
                    inside = [ids[best]]
                gold += [g for g in inside if g not in gold]
            if answers:
                qa.append(_qa(qid, question, answers, domain, gold))


def _qa(
    qid: str, question: str, answers: list[str], domain: str, gold: list[str], answerable: bool = True
) -> Row:
    row: Row = {"id": qid, "question": question, "answers": answers, "domain": domain, "gold_ids": gold}
    if not answerable:
        row["answerable"] = False
    return row


def import_tatqa(path: str | Path, domain: str) -> tuple[list[Row], list[Row], ImportReport]:
    """TAT-QA JSON -> (corpus, qa, report): the toolkit's TAT-QA converter (span questions only)."""
    corpus, qa = convert_tatqa(path, domain)
    return corpus, qa, ImportReport(passages=len(corpus), questions=len(qa))


def import_jsonl(path: str | Path, domain: str | None) -> tuple[list[Row], ImportReport]:
    """Plain JSONL of `{"question", "answers" (or "answer"), "id"?, "domain"?, "gold_ids"?}` -> QA rows."""
    path = Path(path)
    qa: list[Row] = []
    for n, obj in iter_objects(path):
        if not isinstance(obj.get("question"), str) or not obj["question"].strip():
            raise DataError(path, "expected an object with a non-empty string 'question'", n, "question")
        answers = obj.get("answers", obj.get("answer"))
        answers = [answers] if isinstance(answers, str) else answers
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise DataError(
                path, "expected 'answers': a list of strings (or 'answer': a string)", n, "answers"
            )
        answers = [a.strip() for a in answers if a.strip()]
        gold = obj.get("gold_ids", [])
        row_domain = obj.get("domain") if isinstance(obj.get("domain"), str) else None
        qa.append(
            _qa(
                str(obj.get("id", f"{path.stem}:{n}")),
                obj["question"].strip(),
                answers,
                row_domain or domain or DEFAULT_DOMAIN,
                [str(g) for g in gold] if isinstance(gold, list) else [],
                answerable=bool(answers),
            )
        )
    if not qa:
        raise DataError(path, "no questions found; expected one JSON object per line")
    return qa, ImportReport(questions=len(qa), unanswerable=sum(not r["answers"] for r in qa))


def gold_from_answers(qa: list[Row], corpus: Iterable[Row], same_domain: bool = True) -> int:
    """Give questions without gold ids the passages that contain one of their answers (normalised text).

    Returns how many questions got gold passages. With `same_domain`, only passages of the question's domain.
    """
    passages = [
        (p["id"], p.get("domain", DEFAULT_DOMAIN), f" {normalize_answer(p['text'])} ") for p in corpus
    ]
    by_word: dict[str, set[int]] = {}  # word -> passages holding it: candidates before the substring test
    for i, (_, _, text) in enumerate(passages):
        for word in set(text.split()):
            by_word.setdefault(word, set()).add(i)
    given = 0
    for row in qa:
        if row["gold_ids"] or not row["answers"]:
            continue
        found: list[int] = []
        for answer in row["answers"]:
            words = normalize_answer(answer).split()
            if not words:
                continue
            candidates = set.intersection(*(by_word.get(w, set()) for w in words))
            key = f" {' '.join(words)} "
            found += [i for i in candidates if key in passages[i][2]]
        row["gold_ids"] = [
            passages[i][0] for i in sorted(set(found)) if not same_domain or passages[i][1] == row["domain"]
        ]
        given += bool(row["gold_ids"])
    return given


def corpus_rows(path: str | Path) -> list[Row]:
    """A corpus file's rows, validated by the toolkit's loader."""
    return load_corpus(path).to_list()
