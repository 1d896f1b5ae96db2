"""Domain routers (BM25 scores, naive Bayes), top-m routing with pooled fallback, routed retrieval."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from datasets import Dataset

from grpo_rag.data.io import load_corpus
from grpo_rag.errors import ConfigError, GrpoRagError
from grpo_rag.retrieval.bm25 import BM25Retriever
from grpo_rag.retrieval.routing import (
    BM25Router,
    NaiveBayesRouter,
    fit_router,
    load_router,
    route,
    routed_retrieve,
    train_router,
)

QUESTIONS = {
    "How fast do the diesel generators start?": "datacenter",
    "How many servers does each rack hold?": "datacenter",
    "Which cooling removes heat from the server halls?": "datacenter",
    "How long is a bike ride free?": "mobility",
    "How often do night trams run?": "mobility",
    "Where are electric scooters parked?": "mobility",
}


@pytest.fixture
def retriever(tiny_corpus_path: Path) -> BM25Retriever:
    return BM25Retriever.build(load_corpus(tiny_corpus_path))


class FixedRouter:
    """A router stub with fixed probabilities, to test `route` on its own."""

    domains = ["datacenter", "mobility"]

    def __init__(self, probs: list[list[float]]):
        self.probs = np.array(probs)

    def probabilities(self, questions: Any) -> np.ndarray:
        return self.probs[: len(questions)]


def _accuracy(router: Any) -> float:
    probs = router.probabilities(list(QUESTIONS))
    picked = [router.domains[i] for i in probs.argmax(axis=1)]
    return sum(p == d for p, d in zip(picked, QUESTIONS.values(), strict=True)) / len(QUESTIONS)


def test_naive_bayes_router_learns_the_domains(tiny_corpus_rows: list[dict[str, Any]]) -> None:
    corpus = Dataset.from_list([{**r, "title": r.get("title", "")} for r in tiny_corpus_rows])
    router = NaiveBayesRouter.fit(corpus["text"], corpus["domain"])
    assert router.domains == ["datacenter", "mobility"]
    probs = router.probabilities(list(QUESTIONS))
    assert probs.shape == (len(QUESTIONS), 2) and np.allclose(probs.sum(axis=1), 1.0)
    assert _accuracy(router) == 1.0
    # An unseen-word question gets the prior, not an error.
    assert np.allclose(router.probabilities(["zzz qqq"])[0], [0.5, 0.5])


def test_bm25_router_needs_no_training(retriever: BM25Retriever) -> None:
    router = BM25Router(retriever)
    assert router.domains == ["datacenter", "mobility"]
    assert _accuracy(router) == 1.0
    # No term in any domain: equal scores, equal probabilities (a router that cannot tell).
    assert np.allclose(router.probabilities(["zzz"])[0], [0.5, 0.5])


def test_route_top_m_and_fallback() -> None:
    router = FixedRouter([[0.6, 0.4], [0.05, 0.95], [0.5, 0.5]])
    qs = ["a", "b", "c"]
    one = route(router, qs, top_m=1, threshold=0.7)
    assert [r.domains for r in one] == [None, ("mobility",), None]  # unsure -> pooled fallback
    assert [r.top for r in one] == ["datacenter", "mobility", "datacenter"]
    assert one[0].confidence == pytest.approx(0.6)
    two = route(router, qs, top_m=2, threshold=0.7)  # two domains hold all the mass: never falls back
    assert all(r.domains is not None and set(r.domains) == {"datacenter", "mobility"} for r in two)
    assert all(r.domains is not None for r in route(router, qs, top_m=1, threshold=0.0))
    with pytest.raises(GrpoRagError, match="top_m"):
        route(router, qs, top_m=0)


def test_save_and_load_round_trip(
    tmp_path: Path, tiny_corpus_path: Path, tiny_qa_path: Path, retriever: BM25Retriever
) -> None:
    summary = train_router(tiny_qa_path, tiny_corpus_path, tmp_path / "r" / "router.npz")
    assert summary["passages"] == 20 and Path(str(summary["router"])).is_file()
    loaded = load_router(str(tmp_path / "r" / "router.npz"), retriever)
    assert isinstance(loaded, NaiveBayesRouter) and _accuracy(loaded) == 1.0
    fitted = fit_router(
        Dataset.from_dict({"question": ["x"], "domain": ["default"]}), load_corpus(tiny_corpus_path)
    )
    again = NaiveBayesRouter.load(fitted.save(tmp_path / "again.npz"))
    assert np.allclose(again.probabilities(list(QUESTIONS)), fitted.probabilities(list(QUESTIONS)))
    assert isinstance(load_router("bm25", retriever), BM25Router)


def test_load_errors(tmp_path: Path, retriever: BM25Retriever) -> None:
    with pytest.raises(ConfigError, match="no router file"):
        NaiveBayesRouter.load(tmp_path / "missing.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, something=np.zeros(2))
    with pytest.raises(ConfigError, match="not a saved grpo-rag router"):
        NaiveBayesRouter.load(bad)
    other = NaiveBayesRouter.fit(["alpha beta", "gamma delta"], ["legal", "medical"]).save(tmp_path / "o.npz")
    with pytest.raises(ConfigError, match="the corpus lacks"):
        load_router(str(other), retriever)
    with pytest.raises(GrpoRagError, match="at least two domains"):
        NaiveBayesRouter.fit(["a", "b"], ["x", "x"])


@pytest.mark.parametrize("scoring", ["pooled", "domain"])
def test_routed_retrieval_stays_in_chosen_domains(
    retriever: BM25Retriever, tiny_corpus_rows: list[dict[str, Any]], scoring: str
) -> None:
    queries = [r["text"] for r in tiny_corpus_rows] + list(QUESTIONS)
    router = FixedRouter([[0.9, 0.1] if i % 2 else [0.1, 0.9] for i in range(len(queries))])
    routes = route(router, queries, top_m=1)
    hits = routed_retrieve(retriever, queries, routes, k=20, scoring=scoring)
    for r, hs in zip(routes, hits, strict=True):
        assert {h.domain for h in hs} <= set(r.domains or ())
    assert sum(len(hs) for hs in hits) > len(queries)  # the check above is not vacuous
    fallback = route(router, queries, top_m=1, threshold=0.95)
    pooled_hits = routed_retrieve(retriever, queries, fallback, k=20, scoring=scoring)
    assert pooled_hits == retriever.retrieve(queries, k=20)  # fallback = the pooled index


def test_pooled_scoring_is_the_pool_filtered(retriever: BM25Retriever) -> None:
    qs = list(QUESTIONS)
    pooled = retriever.retrieve(qs, k=20)
    masked = retriever.retrieve(qs, k=20, domains=["mobility"], scoring="pooled")
    for p, m in zip(pooled, masked, strict=True):
        assert m == [h for h in p if h.domain == "mobility"]
    with pytest.raises(GrpoRagError, match="scoring"):
        retriever.retrieve(qs, k=2, scoring="mixed")
