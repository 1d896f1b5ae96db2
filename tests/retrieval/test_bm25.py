"""BM25 retrieval: ranking, domain restriction, persistence and the checks that guard a saved index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasets import Dataset

from grpo_rag.data.io import load_corpus
from grpo_rag.errors import GrpoRagError, IndexMismatchError
from grpo_rag.retrieval.bm25 import (
    MANIFEST,
    BM25Retriever,
    Hit,
    _top_k_sparse,
    build_index,
    corpus_fingerprint,
    numba_available,
)

QUERIES = ["diesel generators grid", "night trams weekend", "power for the racks and the cars", "cooling"]


@pytest.fixture
def corpus(tiny_corpus_path: Path) -> Dataset:
    return load_corpus(tiny_corpus_path)


@pytest.fixture
def retriever(corpus: Dataset) -> BM25Retriever:
    return BM25Retriever.build(corpus)


def test_exact_passage_text_ranks_that_passage_first(
    retriever: BM25Retriever, tiny_corpus_rows: list
) -> None:
    results = retriever.retrieve([row["text"] for row in tiny_corpus_rows], k=3)
    assert [hits[0].id for hits in results] == [row["id"] for row in tiny_corpus_rows]
    first = results[0][0]
    assert isinstance(first, Hit) and first.title == "Data centre handbook" and first.domain == "datacenter"
    assert all(a.score >= b.score > 0 for hits in results for a, b in zip(hits, hits[1:], strict=False))


def test_domain_restriction_never_leaves_the_domains(retriever: BM25Retriever) -> None:
    for domain in retriever.domains:
        for hits in retriever.retrieve(QUERIES, k=20, domains=[domain]):
            assert all(hit.domain == domain for hit in hits)
    # A datacenter-only query restricted to mobility finds nothing rather than leaking datacenter passages.
    assert retriever.retrieve(["diesel generators"], k=5, domains=["mobility"]) == [[]]
    both = retriever.retrieve(["power for the racks and the cars"], k=20, domains=["mobility", "datacenter"])[
        0
    ]
    assert {hit.domain for hit in both} == {"datacenter", "mobility"}


def test_per_query_domains(retriever: BM25Retriever) -> None:
    results = retriever.retrieve(
        ["power cars", "power cars", "power cars"], k=10, domains=[["datacenter"], ["mobility"], ["mobility"]]
    )
    assert {h.domain for h in results[0]} == {"datacenter"}
    assert {h.domain for h in results[1]} == {"mobility"}
    assert results[1] == results[2]
    with pytest.raises(GrpoRagError, match="2 domain lists for 3 queries"):
        retriever.retrieve(["a", "b", "c"], k=1, domains=[["mobility"], ["mobility"]])


def test_argument_errors(retriever: BM25Retriever) -> None:
    with pytest.raises(GrpoRagError, match="unknown domain.*'finance'.*known: datacenter, mobility"):
        retriever.retrieve(["x"], k=1, domains=["finance"])
    with pytest.raises(GrpoRagError, match="k must be a positive integer"):
        retriever.retrieve(["x"], k=0)
    with pytest.raises(GrpoRagError, match="list of strings"):
        retriever.retrieve("a single string", k=1)  # type: ignore[arg-type]


def test_k_larger_than_corpus_and_sizes(retriever: BM25Retriever) -> None:
    assert len(retriever) == 20 and retriever.domains == ["datacenter", "mobility"]
    pooled = retriever.retrieve(["the power of the cars, trams, racks and servers"], k=1000)[0]
    assert 0 < len(pooled) <= 20 and len({h.id for h in pooled}) == len(pooled)
    restricted = retriever.retrieve(["electric scooters trams buses cars"], k=1000, domains=["mobility"])[0]
    assert 0 < len(restricted) <= 10
    assert retriever.retrieve(["", "the and of"], k=3) == [[], []]


def test_stemming_setting_changes_matching(corpus: Dataset) -> None:
    stemmed = BM25Retriever.build(corpus, stemmer="english")
    plain = BM25Retriever.build(corpus, stemmer=None)
    assert [h.id for h in stemmed.retrieve(["router"], k=1)[0]] == ["dc-00"]  # text says "routers"
    assert plain.retrieve(["router"], k=1) == [[]]
    assert [h.id for h in plain.retrieve(["routers"], k=1)[0]] == ["dc-00"]
    with pytest.raises(GrpoRagError, match="unknown stemmer 'klingon'"):
        BM25Retriever.build(corpus, stemmer="klingon")
    with pytest.raises(GrpoRagError, match="unknown stopword list 'xx'"):
        BM25Retriever.build(corpus, stopwords="xx")


def test_save_load_roundtrip_is_identical(retriever: BM25Retriever, corpus: Dataset, tmp_path: Path) -> None:
    out = retriever.save(tmp_path / "index")
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["n_passages"] == 20 and manifest["domains"] == ["datacenter", "mobility"]
    assert manifest["corpus_fingerprint"] == corpus_fingerprint(corpus)
    assert (manifest["stemmer"], manifest["stopwords"], manifest["k1"], manifest["b"]) == (
        "english",
        "en",
        1.5,
        0.75,
    )
    loaded = BM25Retriever.load(out, corpus=corpus, mmap=True)
    assert isinstance(loaded._pooled.scores["data"], np.memmap)
    assert len(loaded) == 20 and loaded.domains == retriever.domains
    domains: Any = [["datacenter"], ["mobility"], ["mobility", "datacenter"], ["datacenter"]]
    for kwargs in ({}, {"domains": ["mobility"]}, {"domains": domains}):
        assert loaded.retrieve(QUERIES, k=5, **kwargs) == retriever.retrieve(QUERIES, k=5, **kwargs)


def test_save_replaces_an_index_but_not_other_folders(corpus: Dataset, tmp_path: Path) -> None:
    out = tmp_path / "index"
    BM25Retriever.build(corpus, stemmer=None).save(out)
    BM25Retriever.build(corpus).save(out)
    assert BM25Retriever.load(out).retrieve(["router"], k=1)[0][0].id == "dc-00"  # the stemmed one won
    assert sorted(p.name for p in tmp_path.iterdir()) == ["corpus.jsonl", "index"]  # no temp folders left
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(GrpoRagError, match="not a grpo-rag index"):
        BM25Retriever.build(corpus).save(other)
    assert (other / "keep.txt").read_text() == "mine"


def test_load_with_another_corpus_is_a_mismatch(
    retriever: BM25Retriever, tiny_corpus_rows: list, tmp_path: Path
) -> None:
    retriever.save(tmp_path / "index")
    changed = [dict(row) for row in tiny_corpus_rows]
    changed[3]["text"] += " Edited."
    other = Dataset.from_list([{"title": "", **row} for row in changed])
    assert corpus_fingerprint(other) != retriever.fingerprint
    with pytest.raises(IndexMismatchError, match="built for another corpus.*grpo-rag index"):
        BM25Retriever.load(tmp_path / "index", corpus=other)


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: (d / MANIFEST).unlink(), "manifest.json is missing"),
        (lambda d: (d / MANIFEST).write_text((d / MANIFEST).read_text()[:40]), "manifest.json is unreadable"),
        (lambda d: (d / MANIFEST).write_text('{"format_version": 1}'), "manifest.json is incomplete"),
        (lambda d: (d / "passages.jsonl").unlink(), "passages.jsonl is missing"),
        (
            lambda d: (d / "bm25-pooled" / "data.csc.index.npy").write_bytes(b"\x93NUMPY"),
            "data.csc.index.npy is truncated",
        ),
    ],
    ids=["no-manifest", "truncated-manifest", "incomplete-manifest", "no-passages", "truncated-array"],
)
def test_damaged_index_says_which_file_and_to_rebuild(
    retriever: BM25Retriever, tmp_path: Path, damage: Any, message: str
) -> None:
    out = retriever.save(tmp_path / "index")
    damage(out)
    with pytest.raises(GrpoRagError, match=message) as info:
        BM25Retriever.load(out)
    assert "rebuild" in str(info.value)
    assert not isinstance(info.value, IndexMismatchError)


def test_load_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(GrpoRagError, match="no index at .*grpo-rag index"):
        BM25Retriever.load(tmp_path / "nowhere")


def test_build_index_from_file(tiny_corpus_path: Path, tmp_path: Path) -> None:
    built = build_index(tiny_corpus_path, tmp_path / "idx", show_progress=False)
    loaded = BM25Retriever.load(tmp_path / "idx", corpus=load_corpus(tiny_corpus_path), mmap=False)
    assert loaded.retrieve(QUERIES, k=3) == built.retrieve(QUERIES, k=3)


def test_sparse_top_k_orders_by_score_then_row_and_skips_zeros() -> None:
    scores = np.zeros(50, dtype=np.float32)
    scores[[3, 7, 9, 20, 41]] = [1.0, 2.5, 2.5, 0.5, 3.0]
    top, rows = _top_k_sparse(scores, 3)
    assert rows.tolist() == [41, 7, 9] and top.tolist() == [3.0, 2.5, 2.5]
    assert _top_k_sparse(scores, 10)[1].tolist() == [41, 7, 9, 3, 20]  # only the 5 non-zero rows
    many = np.arange(100, dtype=np.float32)  # more candidates than 4k: the argpartition branch
    assert _top_k_sparse(many, 4)[1].tolist() == [99, 98, 97, 96]
    assert _top_k_sparse(np.zeros(10, dtype=np.float32), 3)[1].tolist() == []


def test_numpy_backend_matches_bm25s_own_retrieval(retriever: BM25Retriever, corpus: Dataset) -> None:
    queries = list(corpus["text"][:8]) + ["no such words zzzz"]
    ours = retriever.retrieve(queries, k=4)
    tokens = retriever._tokenize(queries)
    theirs = retriever._pooled.retrieve(tokens, k=4, backend_selection="numpy", show_progress=False)
    for hits, scores in zip(ours, theirs.scores, strict=True):  # equal scores (bm25s breaks ties arbitrarily)
        assert [round(h.score, 5) for h in hits] == [round(float(s), 5) for s in scores if s > 0]


def test_backend_errors_and_auto_choice(corpus: Dataset) -> None:
    with pytest.raises(GrpoRagError, match="backend must be one of"):
        BM25Retriever.build(corpus, backend="faiss")
    assert BM25Retriever.build(corpus, backend="auto").backend == "numpy"  # a small corpus: no JIT compile
    if not numba_available():
        with pytest.raises(GrpoRagError, match=r"grpo-rag\[fast\]"):
            BM25Retriever.build(corpus, backend="numba")


@pytest.mark.skipif(not numba_available(), reason="numba not installed (pip install grpo-rag[fast])")
def test_numba_backend_returns_what_numpy_does(corpus: Dataset) -> None:
    queries = list(corpus["text"][:10]) + list(corpus["title"][:5])
    domains = [None] * 10 + [[corpus["domain"][0]]] * 5
    fast = BM25Retriever.build(corpus, backend="numba")
    slow = BM25Retriever.build(corpus, backend="numpy")
    for scoring in ("domain", "pooled"):
        a = fast.retrieve(queries, k=3, domains=domains, scoring=scoring)
        b = slow.retrieve(queries, k=3, domains=domains, scoring=scoring)
        for qa, qb in zip(a, b, strict=True):  # same scores; ids too, except ties at the cut-off
            assert [round(h.score, 4) for h in qa] == [round(h.score, 4) for h in qb]
            cut = qb[-1].score
            assert [h.id for h in qa if h.score > cut + 1e-4] == [h.id for h in qb if h.score > cut + 1e-4]
