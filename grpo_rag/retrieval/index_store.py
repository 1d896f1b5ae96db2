"""The saved index's on-disk format: passages, bm25s score arrays, and a manifest that checks both.

Written to a temp folder and swapped in (never half-written); read back memory-mapped, with every file's
presence, size and the corpus fingerprint checked, so a damaged or stale index is named, not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any

import bm25s

from grpo_rag.errors import GrpoRagError, IndexMismatchError

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PASSAGES = "passages.jsonl"
POOLED_DIR = "bm25-pooled"
PASSAGE_COLUMNS = ("id", "title", "text", "domain")
REBUILD_HINT = "rebuild it with `grpo-rag index --corpus FILE --out DIR`"


def fingerprint(columns: dict[str, list[str]]) -> str:
    """A hash of the passage columns: an index is only used with the corpus it was built from."""
    h = hashlib.sha256()
    for row in zip(*(columns[c] for c in PASSAGE_COLUMNS), strict=True):
        h.update(json.dumps(row, ensure_ascii=False).encode("utf-8"))
        h.update(b"\n")
    return h.hexdigest()


def save(
    directory: str | os.PathLike[str],
    passages: dict[str, list[str]],
    pooled: bm25s.BM25,
    by_domain: dict[str, bm25s.BM25],
    settings: dict[str, Any],
    corpus_fingerprint: str,
) -> Path:
    """Write an index into a temp folder beside `directory`, then swap it in; returns the path."""
    target = Path(directory)
    is_index = (target / MANIFEST).is_file()
    if target.exists() and not is_index and (not target.is_dir() or any(target.iterdir())):
        raise GrpoRagError(f"refusing to replace {target}: it exists and is not a grpo-rag index")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.tmp-"))
    try:
        _write(tmp, passages, pooled, by_domain, settings, corpus_fingerprint)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; an index is meant to be shared like any output
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(target, old)
            os.replace(tmp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, target)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def _write(
    out: Path,
    passages: dict[str, list[str]],
    pooled: bm25s.BM25,
    by_domain: dict[str, bm25s.BM25],
    settings: dict[str, Any],
    corpus_fingerprint: str,
) -> None:
    with (out / PASSAGES).open("w", encoding="utf-8", newline="\n") as handle:
        for row in zip(*(passages[c] for c in PASSAGE_COLUMNS), strict=True):
            handle.write(json.dumps(dict(zip(PASSAGE_COLUMNS, row, strict=True)), ensure_ascii=False) + "\n")
    pooled.save(out / POOLED_DIR, show_progress=False)
    domains = sorted(by_domain)
    domain_dirs = {}
    for i, name in enumerate(domains):
        domain_dirs[name] = f"bm25-domain-{i:03d}"
        by_domain[name].save(out / domain_dirs[name], show_progress=False)
    files = {p.relative_to(out).as_posix(): p.stat().st_size for p in sorted(out.rglob("*")) if p.is_file()}
    manifest = {
        "format": "grpo-rag-bm25",
        "format_version": FORMAT_VERSION,
        "corpus_fingerprint": corpus_fingerprint,
        "n_passages": len(passages["id"]),
        **settings,
        "domains": domains,
        "domain_dirs": domain_dirs,
        "bm25s_version": bm25s.__version__,
        "files": files,
    }
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def load(
    directory: str | os.PathLike[str], expected_fingerprint: str | None = None, mmap: bool = True
) -> tuple[dict[str, list[str]], bm25s.BM25, dict[str, bm25s.BM25], dict[str, Any], str]:
    """(passages, pooled index, per-domain indices, settings, fingerprint) of a saved index, all checked."""
    root = Path(directory)
    if not root.is_dir():
        raise GrpoRagError(f"no index at {root}; build one with `grpo-rag index --corpus FILE --out {root}`")
    manifest = _read_manifest(root)
    for rel, size in manifest["files"].items():
        path = root / rel
        if not path.is_file():
            raise GrpoRagError(f"index file {path} is missing; {REBUILD_HINT}")
        if path.stat().st_size != size:
            raise GrpoRagError(f"index file {path} is truncated or was modified; {REBUILD_HINT}")
    if expected_fingerprint is not None and expected_fingerprint != manifest["corpus_fingerprint"]:
        raise IndexMismatchError(
            f"the index at {root} was built for another corpus (or an older version of it); {REBUILD_HINT}"
        )
    passages = _read_passages(root / PASSAGES)
    if (
        len(passages["id"]) != manifest["n_passages"]
        or fingerprint(passages) != manifest["corpus_fingerprint"]
    ):
        raise GrpoRagError(f"index file {root / PASSAGES} does not match {root / MANIFEST}; {REBUILD_HINT}")
    pooled = _load_bm25(root / POOLED_DIR, mmap, len(passages["id"]))
    counts = {d: passages["domain"].count(d) for d in manifest["domains"]}
    if sum(counts.values()) != len(passages["id"]):
        raise GrpoRagError(f"index file {root / MANIFEST} lists the wrong domains; {REBUILD_HINT}")
    by_domain = {
        d: _load_bm25(root / manifest["domain_dirs"][d], mmap, counts[d]) for d in manifest["domains"]
    }
    settings = {key: manifest[key] for key in ("stemmer", "stopwords", "k1", "b")}
    return passages, pooled, by_domain, settings, manifest["corpus_fingerprint"]


_MANIFEST_KEYS = {
    "format_version": int,
    "corpus_fingerprint": str,
    "n_passages": int,
    "k1": (int, float),
    "b": (int, float),
    "domains": list,
    "domain_dirs": dict,
    "files": dict,
}


def _read_manifest(root: Path) -> dict[str, Any]:
    path = root / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GrpoRagError(f"index file {path} is missing; {REBUILD_HINT}") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise GrpoRagError(f"index file {path} is unreadable or truncated ({exc}); {REBUILD_HINT}") from None
    if not isinstance(manifest, dict) or any(
        not isinstance(manifest.get(k), t) for k, t in _MANIFEST_KEYS.items()
    ):
        raise GrpoRagError(f"index file {path} is incomplete; {REBUILD_HINT}")
    if manifest["format_version"] != FORMAT_VERSION:
        raise GrpoRagError(
            f"index at {root} has format version {manifest['format_version']}, this grpo-rag reads "
            f"{FORMAT_VERSION}; {REBUILD_HINT}"
        )
    return manifest


def _read_passages(path: Path) -> dict[str, list[str]]:
    cols: dict[str, list[str]] = {c: [] for c in PASSAGE_COLUMNS}
    try:
        with path.open(encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                for c in PASSAGE_COLUMNS:
                    cols[c].append(row[c])
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise GrpoRagError(f"index file {path} is unreadable ({exc}); {REBUILD_HINT}") from None
    return cols


def _load_bm25(path: Path, mmap: bool, n_docs: int) -> bm25s.BM25:
    """Load one bm25s index and check its arrays are consistent, naming the folder on failure."""
    try:
        index = bm25s.BM25.load(path, mmap=mmap, load_corpus=False, show_progress=False)
        scores = index.scores
        # bm25s appends an empty-string token to the vocabulary that has no score column.
        n_terms = len(scores["indptr"]) - 1 + ("" in index.vocab_dict)
        ok = (
            scores["num_docs"] == n_docs
            and len(scores["data"]) == len(scores["indices"]) == int(scores["indptr"][-1])
            and n_terms == len(index.vocab_dict)
        )
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise GrpoRagError(f"index files in {path} are unreadable ({exc}); {REBUILD_HINT}") from None
    if not ok:
        raise GrpoRagError(f"index files in {path} are inconsistent; {REBUILD_HINT}")
    return index
