"""Fixtures shared by the rollout tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from grpo_rag.data.io import load_corpus
from grpo_rag.retrieval.bm25 import BM25Retriever


@pytest.fixture
def retriever(tiny_corpus_path: Path) -> BM25Retriever:
    """BM25 over the tiny two-domain corpus."""
    return BM25Retriever.build(load_corpus(str(tiny_corpus_path)))
