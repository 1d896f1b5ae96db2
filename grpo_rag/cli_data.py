"""The data commands of the CLI: `ingest` (documents -> chunked corpus), `import` (QA formats -> corpus + QA),
`retrieval-report` (recall@k with no generation). Registered by `grpo_rag.cli.build_parser`.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path
from typing import Any

from grpo_rag.errors import GrpoRagError


def _cmd_ingest(args: argparse.Namespace) -> None:
    from grpo_rag.data.ingest import IngestOptions, ingest, resolve_counter, summary

    count, counter = resolve_counter(args.tokenizer)
    options = IngestOptions(args.chunk_tokens, args.overlap, args.domain, args.on_error)
    start = time.perf_counter()
    report = ingest(args.paths, args.out, options, count)
    print(summary(report, args.out, counter, time.perf_counter() - start))


def _write_split(
    out: Path, corpus: list[dict[str, Any]] | None, qa: list[dict[str, Any]], heldout: float
) -> str | None:
    """Write corpus.jsonl (when new), qa.jsonl and a by-passage train/held-out split, then read them back.

    Returns a warning when the split would leave one side empty (too few distinct gold passages).
    """
    from grpo_rag.data.convert import split_by_passage
    from grpo_rag.data.io import load_corpus, load_qa, write_jsonl

    if corpus is not None:
        write_jsonl(out / "corpus.jsonl", corpus)
    write_jsonl(out / "qa.jsonl", qa)
    warning = None
    if heldout > 0:
        train, held = split_by_passage(qa, heldout_fraction=heldout, max_train=None, max_heldout=None)
        if train and held:
            write_jsonl(out / "train.jsonl", train)
            write_jsonl(out / "heldout.jsonl", held)
        else:
            warning = (
                f"warning: no train/held-out split written: all {len(qa)} questions fell on one side "
                "(they share too few gold passages); use qa.jsonl, or split it yourself"
            )
    if corpus is not None:  # what we wrote must load through the validating loaders
        ids = set(load_corpus(out / "corpus.jsonl")["id"])
        load_qa(out / "qa.jsonl", corpus_ids=ids)
    return warning


def _cmd_import(args: argparse.Namespace) -> None:
    from grpo_rag.data import importers

    out = Path(args.out)
    corpus: list[dict[str, Any]] | None
    domain = args.domain or Path(args.file).stem
    if args.format == "squad":
        from grpo_rag.data.ingest import check_chunking, resolve_counter

        check_chunking(args.chunk_tokens, args.overlap)
        count, _ = resolve_counter(args.tokenizer)
        corpus, qa, report = importers.import_squad(
            args.file, domain, args.chunk_tokens, args.overlap, count, args.unit
        )
    elif args.format == "tatqa":
        corpus, qa, report = importers.import_tatqa(args.file, domain)
    else:
        qa, report = importers.import_jsonl(args.file, args.domain)
        corpus = None
    gold_corpus = corpus
    if args.corpus:
        gold_corpus = importers.corpus_rows(args.corpus)
    elif (
        corpus is None and args.gold_from == "answers" and any(not r["gold_ids"] and r["answers"] for r in qa)
    ):
        raise GrpoRagError(
            f"{args.file}: some questions have no gold_ids; give --corpus CORPUS.jsonl to find them by answer "
            "match, or --gold-from none"
        )
    given = 0
    if args.gold_from == "answers" and gold_corpus is not None:
        given = importers.gold_from_answers(qa, gold_corpus)
    split_warning = _write_split(out, corpus, qa, args.heldout_fraction)
    no_gold = sum(1 for row in qa if not row["gold_ids"] and row["answers"])
    parts = [f"wrote {out}: {len(qa)} questions ({report.unanswerable} unanswerable)"]
    if corpus is not None:
        parts.append(f"{len(corpus)} passages")
    if args.heldout_fraction > 0 and split_warning is None:
        parts.append("train.jsonl + heldout.jsonl split by passage")
    print(", ".join(parts))
    if split_warning:
        print(split_warning)
    if report.shifted_starts or report.relocated_starts:
        print(
            f"answer_start off: {report.shifted_starts} answers found within {importers.START_TOLERANCE} "
            f"characters, {report.relocated_starts} further away (the nearest occurrence was taken)"
        )
    if report.answers_not_in_context:
        print(
            f"warning: {report.answers_not_in_context} answers do not occur in their context (no gold for them)"
        )
    if args.gold_from == "answers":
        print(f"gold passages by answer match: {given} questions")
    if no_gold:
        print(
            f"warning: {no_gold} of {len(qa)} questions have no gold passage: their answers occur in no "
            "passage (or --gold-from none), so recall@k, EM and grounded cannot credit them"
        )
    domains = Counter(row["domain"] for row in qa)
    print("domains: " + ", ".join(f"{d} {n}" for d, n in sorted(domains.items())))


def _cmd_retrieval_report(args: argparse.Namespace) -> None:
    from grpo_rag.data.io import load_corpus, load_qa
    from grpo_rag.evaluation.retrieval_report import ReportOptions, format_report, parse_ks, retrieval_report
    from grpo_rag.retrieval.bm25 import BM25Retriever

    options = ReportOptions(parse_ks(args.k), args.own_domain)
    corpus = load_corpus(args.corpus)
    qa = load_qa(args.qa)
    if args.index:
        retriever = BM25Retriever.load(args.index, corpus=corpus)
    else:
        retriever = BM25Retriever.build(
            corpus,
            stemmer=None if args.stemmer == "none" else args.stemmer,
            stopwords=None if args.stopwords == "none" else args.stopwords,
        )
    report = retrieval_report(retriever, qa, options)
    text = format_report(report)
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "retrieval_report.json").write_text(json.dumps(report, indent=2) + "\n")
        (out / "retrieval_report.md").write_text(text + "\n")
        print(f"wrote {out}/retrieval_report.md and .json")


def add_data_commands(sub: argparse._SubParsersAction) -> None:
    """Register ingest, import and retrieval-report."""
    p = sub.add_parser("ingest", help="chunk folders of documents into a corpus JSONL")
    p.add_argument("paths", nargs="+", help="files or folders of .txt .md .html .pdf .jsonl documents")
    p.add_argument("--out", required=True, help="corpus JSONL to write")
    p.add_argument("--domain", help="domain of every chunk (JSONL rows may carry their own)")
    p.add_argument("--chunk-tokens", type=int, default=200, help="at most N tokens per chunk (default 200)")
    p.add_argument(
        "--overlap", type=int, default=32, help="tokens repeated from the previous chunk (default 32)"
    )
    p.add_argument(
        "--tokenizer",
        help="count tokens with this tokenizer (a model folder or hub id) or `words` "
        "(default: models/smollm2-135m-instruct when installed, else words)",
    )
    p.add_argument(
        "--on-error", choices=("skip", "stop"), default="skip", help="unreadable files (default skip)"
    )
    p.set_defaults(func=_cmd_ingest)

    p = sub.add_parser("import", help="convert a QA set (squad, tatqa, jsonl) into corpus + QA files")
    p.add_argument("format", choices=("squad", "tatqa", "jsonl"))
    p.add_argument("file", help="the QA file (SQuAD/TAT-QA JSON, or JSONL of question/answers)")
    p.add_argument(
        "--out", required=True, help="folder for corpus.jsonl, qa.jsonl, train.jsonl, heldout.jsonl"
    )
    p.add_argument("--domain", help="domain name (default: the file's name)")
    p.add_argument("--chunk-tokens", type=int, default=200, help="squad: chunk contexts longer than N tokens")
    p.add_argument("--overlap", type=int, default=32, help="squad: tokens shared by consecutive chunks")
    p.add_argument("--tokenizer", help="squad: token counter, as for ingest")
    p.add_argument(
        "--unit", choices=("paragraph", "article"), default="paragraph", help="squad: what a document is"
    )
    p.add_argument("--corpus", help="jsonl: corpus to find gold passages in (--gold-from answers)")
    p.add_argument(
        "--gold-from", choices=("answers", "none"), default="answers",
        help="questions without gold ids get the passages containing an answer (default), or none",
    )  # fmt: skip
    p.add_argument(
        "--heldout-fraction", type=float, default=0.25, help="share held out, by passage (0: no split)"
    )
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser("retrieval-report", help="BM25 recall@k per domain, no generation")
    p.add_argument("--corpus", required=True, help="corpus JSONL")
    p.add_argument("--qa", required=True, help="QA JSONL")
    p.add_argument("--k", default="1,5,10", help="comma-separated cut-offs (default 1,5,10)")
    p.add_argument("--own-domain", action="store_true", help="search each question's own domain only")
    p.add_argument("--index", help="a saved index of the corpus (default: build one in memory)")
    p.add_argument("--stemmer", default="english", help="PyStemmer language or 'none' (no --index)")
    p.add_argument("--stopwords", default="en", help="bm25s stopword list or 'none' (no --index)")
    p.add_argument("--out", help="folder to write retrieval_report.md and .json")
    p.set_defaults(func=_cmd_retrieval_report)
