"""Prepared splits: the config checks of the draw, domain weights per split, and routed prompts."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.pipeline.prepare import PromptOptions, attach_context
from grpo_rag.retrieval.bm25 import BM25Retriever


def test_label_balance_needs_a_sample_cap() -> None:
    from grpo_rag.config.schema import DataConfig
    from grpo_rag.errors import ConfigError

    with pytest.raises(ConfigError, match="data.balance_labels: needs data.max_train_samples"):
        DataConfig(balance_labels=True)
    assert DataConfig(balance_labels=True, max_train_samples=10).balance_labels


def test_domain_weights_are_checked_at_load() -> None:
    from grpo_rag.config.schema import DataConfig
    from grpo_rag.errors import ConfigError

    with pytest.raises(ConfigError, match="data.domain_weights: needs data.balance_domains"):
        DataConfig(domain_weights={"med": 0.5}, max_train_samples=10)
    with pytest.raises(ConfigError, match=r"data.domain_weights.med: expected a weight > 0, got 0"):
        DataConfig(domain_weights={"med": 0}, max_train_samples=10, balance_domains=True)
    assert DataConfig(domain_weights={"med": 0.5}, max_train_samples=10, balance_domains=True).domain_weights


def test_domain_weights_reach_grpo_training_sets_only(tiny_run: dict[str, Any]) -> None:
    from grpo_rag.pipeline.prepare import prepare_split, prompt_options
    from grpo_rag.sections import from_dict

    raw = copy.deepcopy(tiny_run)
    raw["data"].update(max_train_samples=3, balance_domains=True, domain_weights={"mobility": 4.0})
    cfg = from_dict(raw)
    options = prompt_options(cfg, chat=False)
    grpo = prepare_split(cfg, cfg.data.train, options, None, 3, split="grpo")
    sft = prepare_split(cfg, cfg.data.train, options, None, 3, split="sft")
    held_out = prepare_split(cfg, cfg.data.train, options, None, 3)
    assert grpo["domain"].count("mobility") == 2
    assert sft["domain"].count("mobility") == held_out["domain"].count("mobility") == 1


def test_routed_prompts_carry_their_route(tiny_corpus_path: Path, tiny_qa_path: Path) -> None:
    corpus = load_corpus(tiny_corpus_path)
    qa = load_qa(tiny_qa_path).select(range(4))
    retriever = BM25Retriever.build(corpus)
    out = attach_context(qa, retriever, PromptOptions(k=3, router="bm25", top_m=1))
    assert out["routed_top"] == ["datacenter", "datacenter", "mobility", "mobility"]
    for routed, ids in zip(out["routed_domains"], out["passage_ids"], strict=True):
        assert routed and all(pid.startswith("dc-" if routed == ["datacenter"] else "mob-") for pid in ids)
