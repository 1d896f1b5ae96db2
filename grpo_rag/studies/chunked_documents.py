"""Long documents, chunked: does BM25 find the answer as well in chunks of whole articles as in paragraphs?

Each SQuADShifts article's paragraphs are joined into one document (Wikipedia articles run to ~15k
tokens), the documents go through `grpo-rag ingest` (token-aware chunks), and the held-out questions of
data/real get gold chunks by answer match (and, as a stricter check, by the SQuAD answer span). Recall@k
is then compared with the paragraph-level corpus of data/real on the same questions, each question
searched within its own domain. Also measured: ingest speed and the largest chunk, in model tokens.
Usage (from the repo root): python -m grpo_rag.studies.chunked_documents --src ../shared/data --out runs/chunked-docs
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from datasets import Dataset

from grpo_rag.data.convert import SOURCES
from grpo_rag.data.importers import gold_from_answers, import_squad
from grpo_rag.data.ingest import IngestOptions, ingest, resolve_counter
from grpo_rag.data.io import QA_FEATURES, load_corpus, load_qa
from grpo_rag.evaluation.retrieval_report import ReportOptions, retrieval_report
from grpo_rag.retrieval.bm25 import BM25Retriever

DOMAINS = ("wikipedia", "reddit", "amazon")


def write_articles(src: Path, folder: Path) -> dict[str, int]:
    """One .txt document per SQuADShifts article (paragraphs joined by blank lines); returns bytes per domain."""
    sizes = {}
    for source in SOURCES:
        if source.domain not in DOMAINS:
            continue
        data = json.loads((src / source.relpath).read_text(encoding="utf-8"))["data"]
        out = folder / source.domain
        out.mkdir(parents=True, exist_ok=True)
        for i, article in enumerate(data):
            text = "\n\n".join(p["context"].strip() for p in article["paragraphs"])
            (out / f"{i:04d}.txt").write_text(text + "\n", encoding="utf-8")
        sizes[source.domain] = sum(p.stat().st_size for p in out.iterdir())
    return sizes


def _qa_dataset(rows: list[dict[str, Any]]) -> Dataset:
    cols = {name: [r.get(name, True if name == "answerable" else None) for r in rows] for name in QA_FEATURES}
    return Dataset.from_dict(cols, features=QA_FEATURES)


def run(
    src: Path,
    real: Path,
    out: Path,
    chunk_tokens: int,
    overlap: int,
    k: tuple[int, ...],
    tokenizer: str | None = None,
) -> dict[str, Any]:
    """Ingest the articles, build both gold labellings, and compare recall with the paragraph corpus."""
    count, counter = resolve_counter(tokenizer)
    heldout = [r for r in load_qa(real / "heldout.jsonl").to_list() if r["domain"] in DOMAINS]
    options = ReportOptions(k, own_domain=True)
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        sizes = write_articles(src, docs)
        chunks: list[dict[str, Any]] = []
        start = time.perf_counter()
        for domain in DOMAINS:
            corpus_file = Path(tmp) / f"{domain}.jsonl"
            ingest([docs / domain], corpus_file, IngestOptions(chunk_tokens, overlap, domain), count)
            chunks += load_corpus(corpus_file).to_list()
        ingest_s = time.perf_counter() - start
    chunk_tokens_max = max(count([c["text"] for c in chunks]))
    by_answer = [dict(r, gold_ids=[]) for r in heldout]
    gold_from_answers(by_answer, chunks)
    chunked = BM25Retriever.build(Dataset.from_list(chunks))
    # The stricter labelling: the chunk(s) holding the SQuAD answer span, from `grpo-rag import squad`.
    spans: dict[str, list[str]] = {}
    span_chunks: list[dict[str, Any]] = []
    for source in (s for s in SOURCES if s.domain in DOMAINS):
        corpus, qa, _ = import_squad(
            src / source.relpath, source.domain, chunk_tokens, overlap, count, "article"
        )
        span_chunks += corpus
        spans.update({r["id"]: r["gold_ids"] for r in qa})
    by_span = [dict(r, gold_ids=spans.get(r["id"], [])) for r in heldout]
    span_index = BM25Retriever.build(Dataset.from_list(span_chunks))
    paragraphs = BM25Retriever.build(load_corpus(real / "corpus.jsonl"))
    reports = {
        "paragraphs (data/real, gold ids)": retrieval_report(paragraphs, _qa_dataset(heldout), options),
        "chunked articles, gold by answer match": retrieval_report(chunked, _qa_dataset(by_answer), options),
        "chunked articles, gold by answer span": retrieval_report(span_index, _qa_dataset(by_span), options),
    }
    mb = sum(sizes.values()) / 1e6
    result = {
        "chunk_tokens": chunk_tokens,
        "overlap": overlap,
        "tokenizer": counter,
        "ingest": {
            "mb": round(mb, 2),
            "seconds": round(ingest_s, 1),
            "mb_per_min": round(mb / ingest_s * 60, 1),
        },
        "chunks": len(chunks),
        "largest_chunk_tokens": chunk_tokens_max,
        "reports": reports,
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "report.md").write_text(format_result(result) + "\n")
    return result


def format_result(result: dict[str, Any]) -> str:
    """One row per domain: recall@k of paragraphs vs chunked articles (both gold labellings)."""
    names = list(result["reports"])
    ks = result["reports"][names[0]]["ks"]
    head = [
        "domain",
        "n",
        *[f"{short} R@{k}" for short in ("paragraphs", "chunks/answer", "chunks/span") for k in ks],
    ]
    lines = ["| " + " | ".join(head) + " |", "|---" * len(head) + "|"]
    for domain in ["all", *DOMAINS]:
        rows = [result["reports"][n]["rows"].get(domain) for n in names]
        if rows[0] is None:
            continue
        cells = [domain, str(rows[0]["n"])]
        cells += [
            f"{r['recall'][str(k)]:.3f}" if r and r["recall"][str(k)] is not None else "-"
            for r in rows
            for k in ks
        ]
        lines.append("| " + " | ".join(cells) + " |")
    ing = result["ingest"]
    lines.append(
        f"\n{result['chunks']} chunks of at most {result['chunk_tokens']} tokens ({result['tokenizer']}), overlap "
        f"{result['overlap']}; largest chunk {result['largest_chunk_tokens']} tokens. Ingest: {ing['mb']} MB in "
        f"{ing['seconds']} s ({ing['mb_per_min']} MB/min). Each question searched within its own domain."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("../shared/data"), help="shared data folder")
    parser.add_argument("--real", type=Path, default=Path("data/real"), help="the paragraph-level data")
    parser.add_argument("--out", type=Path, default=Path("runs/chunked-docs"))
    parser.add_argument("--chunk-tokens", type=int, default=200)
    parser.add_argument("--overlap", type=int, default=32)
    parser.add_argument("--k", default="1,5,10")
    parser.add_argument(
        "--tokenizer", help="as for `grpo-rag ingest` (default: the SmolLM2 tokenizer if installed)"
    )
    args = parser.parse_args(argv)
    ks = tuple(int(x) for x in args.k.split(","))
    result = run(args.src, args.real, args.out, args.chunk_tokens, args.overlap, ks, args.tokenizer)
    print(format_result(result))
    print(f"wrote {args.out}/report.md and report.json")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
