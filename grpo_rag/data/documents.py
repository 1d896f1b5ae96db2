"""Read a user's documents (.txt, .md, .html, .pdf, JSONL of long texts) into plain text with a title.

Each reader returns `Document`s or raises `DataError` naming the file and why it cannot be read, so the
ingest command can report it in one line and go on (or stop) as the user chose.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from grpo_rag.errors import DataError

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
SUFFIXES = (*TEXT_SUFFIXES, *HTML_SUFFIXES, ".pdf", ".jsonl")


@dataclass(frozen=True)
class Document:
    """One document: a stable `doc_id`, its title, its full text and where it came from."""

    doc_id: str
    title: str
    text: str
    source: str
    domain: str | None = None
    note: str | None = None  # a caveat worth a warning (e.g. "decoded as cp1252")


def decode(raw: bytes) -> tuple[str, str | None]:
    """UTF-8 (BOM dropped), else cp1252, else latin-1; returns the text and a note when not UTF-8."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        where = exc.start
    for codec in ("cp1252", "latin-1"):
        try:
            return raw.decode(codec), f"not UTF-8 (byte {where + 1}); decoded as {codec}"
        except UnicodeDecodeError:
            continue
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


_BLOCKS = {
    "p", "div", "br", "li", "ul", "ol", "table", "tr", "h1", "h2", "h3", "h4", "h5", "h6",
    "section", "article", "header", "footer", "blockquote", "pre", "dd", "dt", "hr", "td", "th",
}  # fmt: skip
_SKIPPED = {"script", "style", "noscript", "template", "svg", "head"}


class _HTMLText(HTMLParser):
    """Visible text of an HTML page: scripts and styles dropped, block elements as paragraph breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        elif tag in _SKIPPED:
            self._skip += 1
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag in _SKIPPED:
            self._skip = max(0, self._skip - 1)
        elif tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title.append(data)
        elif not self._skip:
            self.parts.append(data)


def html_text(markup: str) -> tuple[str, str]:
    """(title, text) of an HTML page; runs of spaces collapse, paragraphs stay apart."""
    parser = _HTMLText()
    parser.feed(markup)
    parser.close()
    paragraphs = (" ".join(p.split()) for p in "".join(parser.parts).split("\n\n"))
    return " ".join("".join(parser.title).split()), "\n\n".join(p for p in paragraphs if p)


def _markdown_title(text: str) -> str:
    for line in text.splitlines()[:20]:
        if line.startswith("# "):
            return line[2:].strip()
    return ""


def _pdf_text(path: Path) -> str:
    try:
        from pypdf import PdfReader
        from pypdf.errors import PdfReadError
    except ImportError:
        raise DataError(path, "reading PDF needs pypdf: pip install 'grpo-rag[pdf]'") from None
    try:
        reader = PdfReader(path)
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise DataError(path, f"unreadable PDF ({type(exc).__name__}: {exc})") from None
    return "\n\n".join(p.strip() for p in pages if p.strip())


def read_documents(path: Path, doc_id: str) -> Iterator[Document]:
    """The documents in one file (one, or one per line of a JSONL file); DataError when unreadable."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise DataError(
            path, f"unsupported file type {suffix or '(none)'}; expected one of {', '.join(SUFFIXES)}"
        )
    if suffix == ".pdf":
        text = _pdf_text(path)
        if not text:
            raise DataError(path, "PDF has no extractable text (scanned pages?); run OCR on it first")
        yield Document(doc_id, path.stem, text, str(path))
        return
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(path, f"cannot be read: {exc.strerror or exc}") from None
    text, note = decode(raw)
    if suffix in HTML_SUFFIXES:
        title, text = html_text(text)
        yield Document(doc_id, title or path.stem, text, str(path), note=note)
    elif suffix == ".jsonl":
        yield from _jsonl_documents(path, text, doc_id, note)
    else:
        title = _markdown_title(text) if suffix in (".md", ".markdown") else ""
        yield Document(doc_id, title or path.stem, text, str(path), note=note)


def _jsonl_documents(path: Path, text: str, doc_id: str, note: str | None) -> Iterator[Document]:
    """JSONL of `{"id"?, "text", "title"?, "domain"?}`; ids default to FILE:LINE."""
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, f"invalid JSON: {exc.msg} (column {exc.colno})", line_no) from None
        if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
            raise DataError(path, "expected an object with a string 'text'", line_no, "text")
        ident = obj.get("id")
        title = obj.get("title")
        domain = obj.get("domain")
        yield Document(
            str(ident) if ident not in (None, "") else f"{doc_id}:{line_no}",
            title if isinstance(title, str) else "",
            obj["text"],
            f"{path}:{line_no}",
            domain if isinstance(domain, str) and domain.strip() else None,
            note,
        )
