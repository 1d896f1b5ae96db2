"""`grpo-rag ingest`: folders and files of documents -> a chunked corpus JSONL that fits a prompt budget.

Chunk ids are `DOC#NNNN` (DOC: the path below the folder given, or the JSONL row's id), so re-running on
the same files gives the same ids. Each row also keeps its `source` and character offsets (`start`, `end`)
in the extracted text. Unreadable files are reported one line each and skipped, or stop the run.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from grpo_rag.data.chunking import WORDS, TokenCounter, chunk_text, tokenizer_counter, word_counter
from grpo_rag.data.documents import SUFFIXES, Document, read_documents
from grpo_rag.data.io import DEFAULT_DOMAIN, write_jsonl
from grpo_rag.errors import DataError, GrpoRagError

#: Tokenizer used to count chunk tokens when none is named and the demo model is installed.
DEFAULT_TOKENIZER = "models/smollm2-135m-instruct"


@dataclass(frozen=True)
class IngestOptions:
    """How documents become chunks (the `ingest` command's flags)."""

    chunk_tokens: int = 200  # at most this many tokens per chunk; two chunks + question fit 512 positions
    overlap: int = 32  # tokens of trailing sentences repeated at the start of the next chunk
    domain: str | None = None  # domain of every chunk (JSONL rows may carry their own); None = "default"
    on_error: str = "skip"  # skip: report an unreadable file and go on | stop: raise at the first one

    def __post_init__(self) -> None:
        check_chunking(self.chunk_tokens, self.overlap)
        if self.on_error not in ("skip", "stop"):
            raise GrpoRagError(f"--on-error: expected skip or stop, got {self.on_error!r}")


def check_chunking(chunk_tokens: int, overlap: int) -> None:
    """One-line errors for chunk sizes the chunker cannot honour."""
    if chunk_tokens < 1:
        raise GrpoRagError(f"--chunk-tokens: expected a positive number of tokens, got {chunk_tokens}")
    if not 0 <= overlap < chunk_tokens:
        raise GrpoRagError(
            f"--overlap: expected 0 <= overlap < --chunk-tokens ({chunk_tokens}), got {overlap}"
        )


@dataclass
class IngestReport:
    """What an ingest did: counts, and one line per file skipped and why."""

    files: int = 0
    documents: int = 0
    chunks: int = 0
    bytes_read: int = 0
    skipped: list[str] = field(default_factory=list)  # "PATH: why" per unreadable or empty file
    duplicates: list[str] = field(default_factory=list)  # "DOC (same text as DOC)"
    notes: list[str] = field(default_factory=list)  # readable, with a caveat (decoding)
    max_chunk_tokens: int = 0


def resolve_counter(name: str | None) -> tuple[TokenCounter, str]:
    """The token counter for `--tokenizer` NAME: `words`, a tokenizer folder or hub id; default the demo model."""
    if name == WORDS or (name is None and not Path(DEFAULT_TOKENIZER, "tokenizer.json").is_file()):
        return word_counter, WORDS
    target = name or DEFAULT_TOKENIZER
    from transformers import AutoTokenizer  # deferred: `ingest --tokenizer words` needs no transformers

    try:
        return tokenizer_counter(AutoTokenizer.from_pretrained(target)), target
    except (OSError, ValueError) as exc:
        raise GrpoRagError(
            f"--tokenizer {target}: cannot load a tokenizer ({str(exc).splitlines()[0]}); give a model folder, "
            "or `words` to count words"
        ) from None


def iter_files(paths: Iterable[str | Path]) -> Iterator[tuple[Path, str]]:
    """(file, doc id) for each supported file under the given folders, plus each file given, sorted."""
    for given in paths:
        root = Path(given)
        if root.is_dir():
            for path in sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES):
                if not any(part.startswith(".") for part in path.relative_to(root).parts):
                    yield path, path.relative_to(root).as_posix()
        elif root.is_file():
            yield root, root.name
        else:
            raise DataError(root, "no such file or folder")


def ingest(
    paths: Iterable[str | Path], out: str | Path, options: IngestOptions, count: TokenCounter
) -> IngestReport:
    """Read, de-duplicate and chunk every document under `paths`; write the corpus to `out` atomically."""
    files = list(iter_files(paths))
    if not files:
        raise GrpoRagError(f"no {', '.join(SUFFIXES)} files found in {', '.join(map(str, paths))}")
    report = IngestReport()
    rows: list[dict[str, Any]] = []
    seen_text: dict[str, str] = {}
    seen_ids: set[str] = set()
    total = sum(p.stat().st_size for p, _ in files)
    with tqdm(total=total, unit="B", unit_scale=True, desc="ingest", file=sys.stderr) as bar:
        for path, doc_id in files:
            report.files += 1
            try:
                docs = list(read_documents(path, doc_id))
            except DataError as exc:
                if options.on_error == "stop":
                    raise
                report.skipped.append(str(exc))
                docs = []
            for doc in docs:
                _add_document(doc, options, count, report, rows, seen_text, seen_ids)
            report.bytes_read += path.stat().st_size
            bar.update(path.stat().st_size)
    if not rows:
        raise GrpoRagError("no text found in any document: " + "; ".join(report.skipped[:3]))
    report.chunks = write_jsonl(out, rows)
    return report


def _add_document(
    doc: Document,
    options: IngestOptions,
    count: TokenCounter,
    report: IngestReport,
    rows: list[dict[str, Any]],
    seen_text: dict[str, str],
    seen_ids: set[str],
) -> None:
    if not doc.text.strip():
        report.skipped.append(f"{doc.source}: empty document")
        return
    digest = hashlib.sha256(" ".join(doc.text.split()).encode()).hexdigest()
    if digest in seen_text:
        report.duplicates.append(f"{doc.doc_id} (same text as {seen_text[digest]})")
        return
    if doc.doc_id in seen_ids:
        raise DataError(doc.source, f"duplicate document id {doc.doc_id!r}; give each document its own id")
    seen_text[digest] = doc.doc_id
    seen_ids.add(doc.doc_id)
    if doc.note:
        report.notes.append(f"{doc.source}: {doc.note}")
    report.documents += 1
    domain = doc.domain or options.domain or DEFAULT_DOMAIN
    for i, chunk in enumerate(chunk_text(doc.text, options.chunk_tokens, options.overlap, count)):
        report.max_chunk_tokens = max(report.max_chunk_tokens, chunk.tokens)
        rows.append(
            {
                "id": f"{doc.doc_id}#{i:04d}",
                "title": doc.title,
                "text": chunk.text,
                "domain": domain,
                "source": doc.source,
                "start": chunk.start,
                "end": chunk.end,
            }
        )


def summary(report: IngestReport, out: str | Path, counter: str, seconds: float) -> str:
    """The lines `ingest` prints: counts, speed, then each skipped file, duplicate and caveat."""
    mb = report.bytes_read / 1e6
    lines = [
        f"wrote {out}: {report.chunks} chunks from {report.documents} documents in {report.files} files "
        f"({mb:.1f} MB, {seconds:.1f} s, {mb / max(seconds, 1e-9) * 60:.0f} MB/min); "
        f"largest chunk {report.max_chunk_tokens} tokens ({counter})"
    ]
    lines += [f"skipped: {s}" for s in report.skipped]
    lines += [f"duplicate, skipped: {d}" for d in report.duplicates]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)
