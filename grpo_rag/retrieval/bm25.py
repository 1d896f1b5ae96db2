"""BM25 retrieval over a passage corpus (bm25s): a pooled index plus one index per domain.

Restricting a query to domains searches those domains' own indices, so term weights (IDF, average
length) come from the domain itself rather than from the whole pool.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import bm25s
import numpy as np
import Stemmer
from datasets import Dataset
from tqdm.auto import tqdm

from grpo_rag.data.io import load_corpus
from grpo_rag.errors import GrpoRagError
from grpo_rag.progress import stage, verbose
from grpo_rag.retrieval import index_store
from grpo_rag.retrieval.index_store import MANIFEST, PASSAGE_COLUMNS  # noqa: F401  (part of this module's API)


@dataclass(frozen=True)
class Hit:
    """One retrieved passage and its BM25 score (higher is better)."""

    id: str
    score: float
    text: str
    title: str
    domain: str


def _corpus_columns(corpus: Dataset) -> dict[str, list[str]]:
    """The corpus's id/title/text/domain columns as lists; a clear error if one is missing."""
    missing = [c for c in PASSAGE_COLUMNS if c not in corpus.column_names]
    if missing:
        raise GrpoRagError(
            f"corpus lacks column(s) {', '.join(missing)}; load it with grpo_rag.data.load_corpus"
        )
    return corpus.select_columns(list(PASSAGE_COLUMNS)).to_dict()


def corpus_fingerprint(corpus: Dataset) -> str:
    """sha256 over the rows' (id, title, text, domain) in order: ties a saved index to its corpus."""
    return index_store.fingerprint(_corpus_columns(corpus))


class _Tokenizer:
    """bm25s tokenisation with fixed settings, shared by indexing and querying so both match."""

    def __init__(self, stemmer: str | None, stopwords: str | None):
        self.stemmer_name, self.stopwords = stemmer, stopwords
        try:
            self.stemmer = Stemmer.Stemmer(stemmer) if stemmer else None
        except KeyError:
            known = ", ".join(sorted(Stemmer.algorithms()))
            raise GrpoRagError(f"unknown stemmer {stemmer!r}; use one of: {known}, or none") from None
        try:
            bm25s.tokenize(["probe"], stopwords=stopwords, show_progress=False)  # validates the name
        except ValueError:
            raise GrpoRagError(
                f"unknown stopword list {stopwords!r}; use a bm25s language code such as 'en', or none"
            ) from None

    def __call__(self, texts: list[str], show_progress: bool = False) -> list[list[str]]:
        return bm25s.tokenize(
            texts,
            stopwords=self.stopwords,
            stemmer=self.stemmer,
            return_ids=False,
            show_progress=show_progress,
        )


def _new_bm25(tokens: list[list[str]], k1: float, b: float, show_progress: bool) -> bm25s.BM25:
    index = bm25s.BM25(k1=k1, b=b, backend="numpy")
    index.index(tokens, show_progress=show_progress)
    return index


#: Corpus size from which `backend="auto"` picks numba: below it, numba's one-off JIT compile (about 7 s per
#: process, measured) costs more than the numpy path spends on a training set's queries.
NUMBA_MIN_PASSAGES = 100_000
BACKENDS = ("auto", "numpy", "numba")


def numba_available() -> bool:
    """Whether bm25s can use its numba backend here (the optional `numba` package is installed)."""
    return importlib.util.find_spec("numba") is not None


def _resolve_backend(backend: str, n_passages: int) -> str:
    if backend not in BACKENDS:
        raise GrpoRagError(f"retrieval backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
    if backend == "numba" and not numba_available():
        raise GrpoRagError("retrieval backend 'numba' needs numba: pip install 'grpo-rag[fast]'")
    if backend == "auto":
        return "numba" if numba_available() and n_passages >= NUMBA_MIN_PASSAGES else "numpy"
    return backend


def _top_k_sparse(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-k rows among the non-zero scores, best first (ties: lower row first).

    Used instead of bm25s's numpy top-k, which argpartitions the whole score vector: numpy does that
    about 25x slower when most scores are 0, as BM25 scores are (measured, 8,300 passages).
    """
    rows = np.flatnonzero(scores)
    if len(rows) > 4 * k:
        rows = rows[np.argpartition(-scores[rows], k - 1)[:k]]
    order = np.lexsort((rows, -scores[rows]))[:k]
    return scores[rows[order]], rows[order]


class BM25Retriever:
    """Batched BM25 search over a passage corpus, pooled or restricted to domains; saved atomically.

    `backend`: "numpy" (no extra dependency), "numba" (bm25s's JIT backend, `pip install grpo-rag[fast]`;
    far faster per query, about 7 s to compile once per process) or "auto" (numba when it is installed and
    the corpus has at least NUMBA_MIN_PASSAGES passages). Both return the same passages.
    """

    def __init__(
        self,
        passages: dict[str, list[str]],
        pooled: bm25s.BM25,
        by_domain: dict[str, bm25s.BM25],
        settings: dict[str, Any],
        fingerprint: str,
        backend: str = "auto",
    ):
        self.backend = _resolve_backend(backend, len(passages["id"]))
        for index in (pooled, *by_domain.values()):
            index.backend = self.backend  # bm25s reads it at query time; the saved arrays are the same
        self._passages = passages
        self._pooled = pooled
        self._by_domain = by_domain
        self._settings = settings
        self._fingerprint = fingerprint
        domains = np.asarray(passages["domain"], dtype=object)
        self._domain_rows = {d: np.flatnonzero(domains == d) for d in by_domain}
        self._tokenize = _Tokenizer(settings["stemmer"], settings["stopwords"])

    # --- building -----------------------------------------------------------------------------------
    @classmethod
    def build(
        cls,
        corpus: Dataset,
        *,
        stemmer: str | None = "english",
        stopwords: str | None = "en",
        k1: float = 1.5,
        b: float = 0.75,
        show_progress: bool = False,
        backend: str = "auto",
    ) -> BM25Retriever:
        """Tokenise title + text of every passage once, then index the pool and each domain."""
        passages = _corpus_columns(corpus)
        if not passages["id"]:
            raise GrpoRagError("cannot build an index over an empty corpus")
        tokenize = _Tokenizer(stemmer, stopwords)
        docs = [
            f"{title}\n{text}" if title else text
            for title, text in zip(passages["title"], passages["text"], strict=True)
        ]
        names = sorted(set(passages["domain"]))
        # One bar for the whole build (tokenize, the pool, each domain); bm25s' own bars only when asked.
        with stage("index", total=2 + len(names), unit="step") as bar:
            tokens = tokenize(docs, show_progress=show_progress)
            bar.update()
            pooled = _new_bm25(tokens, k1, b, show_progress)
            bar.update()
            by_domain: dict[str, bm25s.BM25] = {}
            for domain in names:
                sub = [tok for tok, d in zip(tokens, passages["domain"], strict=True) if d == domain]
                by_domain[domain] = _new_bm25(sub, k1, b, show_progress=False)
                bar.update()
        settings = {"stemmer": stemmer, "stopwords": stopwords, "k1": k1, "b": b}
        return cls(passages, pooled, by_domain, settings, index_store.fingerprint(passages), backend)

    # --- querying -----------------------------------------------------------------------------------
    @property
    def domains(self) -> list[str]:
        """Domain names present in the corpus, sorted."""
        return sorted(self._by_domain)

    @property
    def settings(self) -> dict[str, Any]:
        """The tokenizer and scoring settings the index was built with (stemmer, stopwords, k1, b)."""
        return dict(self._settings)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the corpus this index was built from (see `corpus_fingerprint`)."""
        return self._fingerprint

    def __len__(self) -> int:
        return len(self._passages["id"])

    def passage_lookup(self) -> dict[str, tuple[str, str]]:
        """Map passage id -> (title, text), e.g. to show gold passages in oracle evaluation."""
        p = self._passages
        return {pid: (p["title"][i], p["text"][i]) for i, pid in enumerate(p["id"])}

    def retrieve(
        self,
        queries: list[str],
        k: int,
        domains: list[str] | Sequence[Sequence[str] | None] | None = None,
        show_progress: bool = False,
        scoring: str = "domain",
    ) -> list[list[Hit]]:
        """Top-k passages per query, best first; passages sharing no term with a query are left out.

        `domains=None` searches the pooled index. A list of names restricts every query to those domains;
        a list of lists gives each query its own domains (None in it = pooled for that query). With
        `scoring="domain"` restricted queries search each named domain's own index and merge by score;
        with `scoring="pooled"` they keep the pooled index's scores, masked to the named domains (so a
        passage ranks as in pooled search, minus the other domains). Fewer than k hits come back when
        fewer passages match.
        """
        if isinstance(queries, str) or not all(isinstance(q, str) for q in queries):
            raise GrpoRagError("queries must be a list of strings")
        if not isinstance(k, int) or k <= 0:
            raise GrpoRagError(f"k must be a positive integer, got {k!r}")
        if scoring not in ("domain", "pooled"):
            raise GrpoRagError(f"scoring must be 'domain' or 'pooled', got {scoring!r}")
        per_query = self._resolve_domains(domains, len(queries))
        tokens = self._tokenize(list(queries), show_progress=show_progress)
        # One bm25s call per index (domain scoring) or per distinct domain set (pooled scoring).
        groups: dict[Any, list[int]] = {}
        for qi, names in enumerate(per_query):
            if scoring == "pooled" or names is None:
                groups.setdefault(("pooled", names), []).append(qi)
            else:
                for name in names:
                    groups.setdefault(("domain", name), []).append(qi)
        found: list[list[tuple[float, int]]] = [[] for _ in queries]
        for (kind, key), members in groups.items():
            index = self._pooled if kind == "pooled" else self._by_domain[key]
            rows = self._domain_rows[key] if kind == "domain" else None
            mask = self._mask(key) if kind == "pooled" and key is not None else None
            scores, docs = self._search(index, [tokens[qi] for qi in members], k, mask, show_progress)
            for qi, q_scores, q_docs in zip(members, scores, docs, strict=True):
                doc_rows = q_docs if rows is None else rows[q_docs]
                found[qi].extend(
                    (s, d) for s, d in zip(q_scores.tolist(), doc_rows.tolist(), strict=True) if s > 0.0
                )
        return [
            [self._hit(row, score) for score, row in sorted(f, key=lambda x: (-x[0], x[1]))[:k]]
            for f in found
        ]

    def _search(
        self,
        index: bm25s.BM25,
        tokens: list[list[str]],
        k: int,
        mask: np.ndarray | None,
        show_progress: bool,
    ) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Scores and index rows of each query's top-k in one bm25s index, per the backend."""
        k = min(k, int(index.scores["num_docs"]))
        if self.backend == "numba":
            result = index.retrieve(tokens, k=k, show_progress=show_progress, n_threads=0, weight_mask=mask)
            return list(result.scores), list(result.documents)
        found = [
            _top_k_sparse(index.get_scores_from_ids(index.get_tokens_ids(q), weight_mask=mask), k)
            for q in tqdm(tokens, desc="BM25", disable=not show_progress)
        ]
        return [s for s, _ in found], [d for _, d in found]

    def _mask(self, names: tuple[str, ...]) -> np.ndarray:
        """1.0 for passages of the named domains, 0.0 elsewhere (a bm25s weight mask over the pool)."""
        mask = np.zeros(len(self), dtype=np.float32)
        for name in names:
            mask[self._domain_rows[name]] = 1.0
        return mask

    def _hit(self, row: int, score: float) -> Hit:
        p = self._passages
        return Hit(
            id=p["id"][row], score=score, text=p["text"][row], title=p["title"][row], domain=p["domain"][row]
        )

    def _resolve_domains(
        self, domains: list[str] | Sequence[Sequence[str] | None] | None, n_queries: int
    ) -> list[tuple[str, ...] | None]:
        """Normalise the `domains` argument to one tuple of names (or None = pooled) per query."""
        if domains is None:
            return [None] * n_queries
        if isinstance(domains, str) or not isinstance(domains, Sequence):
            raise GrpoRagError(
                "domains must be a list of domain names, or a list of such lists (one per query)"
            )
        if all(isinstance(d, str) for d in domains):
            per_query: list[Sequence[str]] = [domains] * n_queries  # type: ignore[list-item]
        elif all(d is None or isinstance(d, (list, tuple)) for d in domains):
            if len(domains) != n_queries:
                raise GrpoRagError(
                    f"got {len(domains)} domain lists for {n_queries} queries; give one per query"
                )
            per_query = list(domains)  # type: ignore[arg-type]
        else:
            raise GrpoRagError(
                "domains must be a list of domain names, or a list of such lists (one per query)"
            )
        out: list[tuple[str, ...] | None] = []
        for names in per_query:
            if names is None:
                out.append(None)
                continue
            if not names:
                raise GrpoRagError("an empty domain list matches nothing; pass domains=None to search all")
            unknown = sorted({n for n in names if n not in self._by_domain})
            if unknown:
                raise GrpoRagError(
                    f"unknown domain(s) {', '.join(map(repr, unknown))}; known: {', '.join(self.domains)}"
                )
            out.append(tuple(dict.fromkeys(names)))
        return out

    # --- saving and loading (the on-disk format is `index_store.py`) ---------------------------------
    def save(self, directory: str | os.PathLike[str]) -> Path:
        """Write the index into a temp folder beside `directory`, then swap it in; returns the path.

        An existing index there is replaced; any other non-empty folder is refused, never deleted.
        """
        return index_store.save(
            directory, self._passages, self._pooled, self._by_domain, self._settings, self._fingerprint
        )

    @classmethod
    def load(
        cls,
        directory: str | os.PathLike[str],
        corpus: Dataset | None = None,
        mmap: bool = True,
        backend: str = "auto",
    ) -> BM25Retriever:
        """Load a saved index (score arrays memory-mapped when `mmap`), checking it is complete.

        With `corpus`, raises IndexMismatchError unless the index was built from exactly that corpus.
        """
        expected = corpus_fingerprint(corpus) if corpus is not None else None
        return cls(*index_store.load(directory, expected, mmap=mmap), backend=backend)


def build_index(
    corpus_path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    *,
    stemmer: str | None = "english",
    stopwords: str | None = "en",
    show_progress: bool | None = None,
) -> BM25Retriever:
    """Load a corpus JSONL file, index it and save the index to `out_dir` (what `grpo-rag index` runs).

    `show_progress` turns on bm25s' own bars (default: only when verbose); the `index` stage bar always shows.
    """
    corpus = load_corpus(corpus_path)
    show = verbose() if show_progress is None else show_progress
    retriever = BM25Retriever.build(corpus, stemmer=stemmer, stopwords=stopwords, show_progress=show)
    retriever.save(out_dir)
    return retriever
