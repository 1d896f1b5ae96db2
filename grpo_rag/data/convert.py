"""Convert the public QA sets (SQuADShifts, PubMedQA, TAT-QA) into grpo-rag's corpus and QA rows.

Passage and question ids are derived from positions and ids in the source files, so re-running a
conversion on the same files gives the same ids, and the train/held-out split is a pure function of them.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpo_rag.errors import DataError, GrpoRagError

Row = dict[str, Any]
Converted = tuple[list[Row], list[Row]]

SPLIT_SALT = "grpo-rag-split-v1"


def _read_json(path: str | Path) -> Any:
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise DataError(path, "file not found; point --src at the shared data folder") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(path, f"not a valid JSON file: {exc}") from None


def _format_error(path: str | Path, fmt: str, exc: Exception) -> DataError:
    return DataError(path, f"not in the expected {fmt} format ({type(exc).__name__}: {exc})")


def _unique(texts: Iterable[str]) -> list[str]:
    """Stripped, non-empty texts with duplicates removed, first occurrence first."""
    out: dict[str, None] = {}
    for text in texts:
        if text.strip():
            out.setdefault(text.strip(), None)
    return list(out)


def convert_squadshifts(path: str | Path, domain: str) -> Converted:
    """SQuAD v1.1-style file -> one passage per paragraph (title = article title, `_` as spaces).

    Each question keeps its unique gold answer texts and its paragraph as the only gold passage.
    """
    data = _read_json(path)
    corpus: list[Row] = []
    qa: list[Row] = []
    try:
        for a_idx, article in enumerate(data["data"]):
            title = str(article.get("title", "")).replace("_", " ")
            for p_idx, paragraph in enumerate(article["paragraphs"]):
                pid = f"{domain}:{a_idx:04d}:{p_idx:04d}"
                corpus.append(
                    {"id": pid, "title": title, "text": paragraph["context"].strip(), "domain": domain}
                )
                for item in paragraph["qas"]:
                    answers = _unique(a["text"] for a in item["answers"])
                    if answers and item["question"].strip():
                        qa.append(_qa_row(f"{domain}:{item['id']}", item["question"], answers, domain, [pid]))
    except (KeyError, TypeError, AttributeError) as exc:
        raise _format_error(path, "SQuAD v1.1", exc) from None
    return corpus, qa


def convert_pubmedqa(path: str | Path, domain: str = "pubmedqa") -> Converted:
    """PubMedQA labelled set -> one passage per abstract (its CONTEXTS joined); answer = final_decision."""
    data = _read_json(path)
    corpus: list[Row] = []
    qa: list[Row] = []
    try:
        for pmid, item in data.items():
            pid = f"{domain}:{pmid}"
            text = " ".join(part.strip() for part in item["CONTEXTS"])
            corpus.append({"id": pid, "title": "", "text": text, "domain": domain})
            decision = item["final_decision"].strip().lower()
            if decision not in ("yes", "no", "maybe"):
                raise ValueError(f"final_decision {decision!r} of {pmid} is not yes/no/maybe")
            qa.append(_qa_row(f"{domain}:q{pmid}", item["QUESTION"], [decision], domain, [pid]))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _format_error(path, "PubMedQA", exc) from None
    return corpus, qa


def linearise_table(table: list[list[Any]]) -> str:
    """One line per table row, cells joined with " | "; rows with no content are dropped."""
    lines = []
    for row in table:
        cells = [str(cell).strip() for cell in row]
        if any(cells):
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def convert_tatqa(path: str | Path, domain: str = "tatqa") -> Converted:
    """TAT-QA -> one passage per text paragraph plus the linearised table; span questions only.

    `span` questions keep their span(s) as alternative answers; a `multi-span` answer becomes ONE string,
    the spans joined with ", " in the source order, because the question asks for all of them at once.
    Gold passages: the table when `answer_from` mentions it, plus every paragraph in `rel_paragraphs`.
    Arithmetic and count questions are dropped: their answers are computed, not found in a passage.
    """
    data = _read_json(path)
    corpus: list[Row] = []
    qa: list[Row] = []
    try:
        for c_idx, context in enumerate(data):
            table_id = f"{domain}:{c_idx:04d}:table"
            corpus.append(
                {
                    "id": table_id,
                    "title": "",
                    "text": linearise_table(context["table"]["table"]),
                    "domain": domain,
                }
            )
            para_ids: dict[str, str] = {}
            for para in context["paragraphs"]:
                pid = f"{domain}:{c_idx:04d}:p{int(para['order']):02d}"
                para_ids[str(para["order"])] = pid
                corpus.append({"id": pid, "title": "", "text": para["text"].strip(), "domain": domain})
            for item in context["questions"]:
                kind = item["answer_type"]
                if kind not in ("span", "multi-span"):
                    continue
                spans = _unique(str(s) for s in item["answer"])
                answers = [", ".join(spans)] if kind == "multi-span" and spans else spans
                gold = [table_id] if "table" in item["answer_from"] else []
                gold += [para_ids[str(r)] for r in item["rel_paragraphs"]]
                if answers and gold:
                    qa.append(_qa_row(f"{domain}:{item['uid']}", item["question"], answers, domain, gold))
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise _format_error(path, "TAT-QA", exc) from None
    return corpus, qa


def _qa_row(qid: str, question: str, answers: list[str], domain: str, gold_ids: list[str]) -> Row:
    return {
        "id": qid,
        "question": question.strip(),
        "answers": answers,
        "domain": domain,
        "gold_ids": list(dict.fromkeys(gold_ids)),
    }


def unit_hash(key: str, salt: str = SPLIT_SALT) -> float:
    """Map a string to [0, 1) with sha256: a stable, RNG-free coin for splitting and sampling."""
    digest = hashlib.sha256(f"{salt}\0{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _passage_groups(rows: list[Row]) -> dict[str, str]:
    """Union gold passages that share a question; map each passage id to its group's smallest id."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for row in rows:
        roots = [find(g) for g in row["gold_ids"]]
        for other in roots[1:]:
            a, b = find(roots[0]), find(other)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {pid: find(pid) for pid in parent}


def split_by_passage(
    qa_rows: list[Row],
    *,
    heldout_fraction: float = 0.25,
    max_train: int | None = 1000,
    max_heldout: int | None = 300,
    salt: str = SPLIT_SALT,
) -> tuple[list[Row], list[Row]]:
    """Split questions into (train, held-out) by gold passage, then cap each side per domain.

    Questions whose gold passages overlap form one group, and a group goes to held-out when the hash of
    its smallest passage id is below `heldout_fraction`; so no held-out gold passage is ever a training
    gold passage (a question without gold passages is split by its own id). Caps keep the questions with the smallest question-id hashes, in their source order.
    """
    if not 0.0 < heldout_fraction < 1.0:
        raise GrpoRagError(f"heldout_fraction must be between 0 and 1, got {heldout_fraction}")
    group = _passage_groups([row for row in qa_rows if row["gold_ids"]])
    train: list[Row] = []
    heldout: list[Row] = []
    for row in qa_rows:  # a question without gold passages is its own group
        key = group[row["gold_ids"][0]] if row["gold_ids"] else f"question:{row['id']}"
        side = heldout if unit_hash(key, salt) < heldout_fraction else train
        side.append(row)
    return _cap_per_domain(train, max_train, salt), _cap_per_domain(heldout, max_heldout, salt)


def _cap_per_domain(rows: list[Row], cap: int | None, salt: str) -> list[Row]:
    if cap is None:
        return rows
    by_domain: dict[str, list[int]] = {}
    for i, row in enumerate(rows):
        by_domain.setdefault(row["domain"], []).append(i)
    keep: set[int] = set()
    for indices in by_domain.values():
        keep.update(sorted(indices, key=lambda i: unit_hash(rows[i]["id"], salt))[:cap])
    return [row for i, row in enumerate(rows) if i in keep]


@dataclass(frozen=True)
class Source:
    """One shipped source file: where it lives under the shared data folder and how to convert it."""

    domain: str
    relpath: str
    convert: Callable[[Path], Converted]


SOURCES: tuple[Source, ...] = (
    Source("wikipedia", "squadshifts/new_wiki_v1.0.json", lambda p: convert_squadshifts(p, "wikipedia")),
    Source("reddit", "squadshifts/reddit_v1.0.json", lambda p: convert_squadshifts(p, "reddit")),
    Source("amazon", "squadshifts/amazon_reviews_v1.0.json", lambda p: convert_squadshifts(p, "amazon")),
    Source("pubmedqa", "pubmedqa/ori_pqal.json", convert_pubmedqa),
    Source("tatqa", "tatqa/tatqa_dataset_dev.json", convert_tatqa),
)


def convert_all(src_dir: str | Path, sources: Iterable[Source] = SOURCES) -> Converted:
    """Convert every source under `src_dir`; ids are checked to be unique across all of them."""
    corpus: list[Row] = []
    qa: list[Row] = []
    for source in sources:
        part_corpus, part_qa = source.convert(Path(src_dir) / source.relpath)
        corpus += part_corpus
        qa += part_qa
    for kind, rows in (("passage", corpus), ("question", qa)):
        seen: set[str] = set()
        for row in rows:
            if row["id"] in seen:
                raise GrpoRagError(f"duplicate {kind} id {row['id']!r} across sources")
            seen.add(row["id"])
    return corpus, qa
