"""`ingest` and the document readers: every file type, unreadable and odd files, stable ids, atomic output."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grpo_rag.cli import main as cli
from grpo_rag.data.chunking import word_counter
from grpo_rag.data.documents import html_text, read_documents
from grpo_rag.data.ingest import IngestOptions, ingest
from grpo_rag.data.io import load_corpus
from grpo_rag.errors import DataError


def pdf_bytes(text: str | None) -> bytes:
    """A one-page PDF showing `text` in Helvetica (None: a blank page), with a correct xref table."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode() if text else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for i, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


@pytest.fixture
def docs(tmp_path: Path) -> Path:
    root = tmp_path / "docs"
    (root / "sub").mkdir(parents=True)
    (root / "guide.md").write_text("# Pump guide\n\nThe pump runs at 42 degrees.\n\nIt stops at night.\n")
    (root / "sub" / "page.html").write_text(
        "<html><head><title>Ops page</title><style>p{color:red}</style>"
        "<script>var secret = 'do not index';</script></head>"
        "<body><p>Valve  A opens&nbsp;first.</p><div>Valve B second.</div></body></html>"
    )
    (root / "latin.txt").write_bytes("Caf\xe9 au lait costs 3 euros.".encode("cp1252"))
    (root / "copy.md").write_text("# Pump guide\n\nThe pump runs at 42 degrees.\n\nIt stops at night.\n")
    (root / "empty.txt").write_text("   \n")
    (root / "manual.pdf").write_bytes(pdf_bytes("Turbine T7 needs oil every week."))
    (root / "scan.pdf").write_bytes(pdf_bytes(None))
    (root / "broken.pdf").write_bytes(b"%PDF-1.4 this is not a pdf")
    (root / "notes.docx").write_bytes(b"ignored: not a supported type")
    (root / ".hidden.txt").write_text("hidden files are not documents")
    return root


def test_html_drops_scripts_and_styles() -> None:
    title, text = html_text(
        "<title>T</title><script>x()</script><style>a{}</style><p>Hi  there</p><p>Bye</p>"
    )
    assert (title, text) == ("T", "Hi there\n\nBye")


def test_pdf_text_and_pdf_without_text(tmp_path: Path) -> None:
    good, blank = tmp_path / "a.pdf", tmp_path / "b.pdf"
    good.write_bytes(pdf_bytes("Hello turbine"))
    blank.write_bytes(pdf_bytes(None))
    [doc] = read_documents(good, "a.pdf")
    assert "Hello turbine" in doc.text and doc.title == "a"
    with pytest.raises(DataError, match="no extractable text.*OCR"):
        list(read_documents(blank, "b.pdf"))


def test_ingest_folder(docs: Path, tmp_path: Path) -> None:
    out = tmp_path / "corpus.jsonl"
    report = ingest([docs], out, IngestOptions(chunk_tokens=50, overlap=5, domain="ops"), word_counter)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [r["id"] for r in rows]
    assert ids == ["copy.md#0000", "latin.txt#0000", "manual.pdf#0000", "sub/page.html#0000"]  # sorted paths
    by_id = {r["id"]: r for r in rows}
    assert by_id["sub/page.html#0000"]["title"] == "Ops page"
    assert "secret" not in by_id["sub/page.html#0000"]["text"]
    assert by_id["latin.txt#0000"]["text"].startswith("Café")
    assert by_id["copy.md#0000"]["title"] == "Pump guide"
    assert {r["domain"] for r in rows} == {"ops"}
    assert all(r["end"] > r["start"] >= 0 for r in rows)
    assert report.duplicates == ["guide.md (same text as copy.md)"]
    skipped = "\n".join(report.skipped)
    assert "scan.pdf: PDF has no extractable text" in skipped
    assert "broken.pdf: unreadable PDF" in skipped
    assert "empty.txt: empty document" in skipped
    assert "notes.docx" not in skipped and "hidden" not in json.dumps(rows)  # not documents: not read
    assert any("latin.txt" in n and "cp1252" in n for n in report.notes)
    assert len(load_corpus(out)) == len(rows)  # the toolkit's loader reads it


def test_ids_stable_on_rerun(docs: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    ingest([docs], a, IngestOptions(chunk_tokens=8, overlap=2), word_counter)
    ingest([docs], b, IngestOptions(chunk_tokens=8, overlap=2), word_counter)
    assert a.read_text() == b.read_text()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temp file left


def test_on_error_stop_raises_the_first_bad_file(docs: Path, tmp_path: Path) -> None:
    with pytest.raises(DataError, match="broken.pdf"):
        ingest([docs], tmp_path / "c.jsonl", IngestOptions(on_error="stop"), word_counter)
    assert not (tmp_path / "c.jsonl").exists()


def test_jsonl_documents_keep_their_ids_and_domains(tmp_path: Path) -> None:
    src = tmp_path / "docs.jsonl"
    long = "Sentence number one is here. " * 60
    src.write_text(
        json.dumps({"id": "paper-1", "title": "P1", "text": long, "domain": "science"})
        + "\n"
        + json.dumps({"text": "No id here."})
        + "\n"
    )
    out = tmp_path / "c.jsonl"
    ingest([src], out, IngestOptions(chunk_tokens=40, overlap=6), word_counter)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["id"] == "paper-1#0000" and rows[0]["domain"] == "science"
    assert len([r for r in rows if r["id"].startswith("paper-1#")]) > 3
    assert rows[-1]["id"] == "docs.jsonl:2#0000" and rows[-1]["domain"] == "default"


def test_cli_ingest_prints_counts_and_skips(
    docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "c.jsonl"
    argv = [
        "ingest",
        str(docs),
        "--out",
        str(out),
        "--tokenizer",
        "words",
        "--chunk-tokens",
        "30",
        "--overlap",
        "4",
    ]
    assert cli(argv) == 0
    printed = capsys.readouterr().out
    assert f"wrote {out}: 4 chunks from 4 documents in 8 files" in printed
    assert "skipped:" in printed and "duplicate, skipped:" in printed


def test_cli_ingest_missing_path_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        cli(["ingest", str(tmp_path / "nope"), "--out", str(tmp_path / "c.jsonl"), "--tokenizer", "words"])
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: {tmp_path / 'nope'}: no such file or folder"]


def test_cli_ingest_bad_overlap_is_one_line(
    docs: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [
        "ingest",
        str(docs),
        "--out",
        str(tmp_path / "c.jsonl"),
        "--tokenizer",
        "words",
        "--chunk-tokens",
        "30",
    ]
    assert cli(argv) == 2
    assert (
        capsys.readouterr().err.strip()
        == "error: --overlap: expected 0 <= overlap < --chunk-tokens (30), got 32"
    )
