"""`grpo-rag compare` on a tiny demo knowledge base and a tiny model: every arm runs, the report is complete."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch

from grpo_rag.demo.synth import SynthOptions, write_demo_data
from grpo_rag.errors import ConfigError
from grpo_rag.sections import from_dict
from grpo_rag.studies.compare import LABELS, run_compare
from grpo_rag.studies.settings import COMPARE_ARMS
from tests.conftest import TINY_MODEL


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Any:
    """One torch thread: for a model this small, extra threads only contend for shared cores (10x slower)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A small demo KB (4 domains, 108 passages) and a tiny model bootstrapped on it; the raw config."""
    from grpo_rag.demo.bootstrap import bootstrap

    root = tmp_path_factory.mktemp("compare")
    write_demo_data(root / "data", SynthOptions(seed=0, train_families=2, heldout_families=1))
    data = root / "data"
    raw: dict[str, Any] = {
        "model": {"name_or_path": str(root / "model")},
        "lora": {"r": 4, "alpha": 8},
        "data": {
            "corpus": str(data / "corpus.jsonl"),
            "train": str(data / "train.jsonl"),
            "eval": str(data / "heldout.jsonl"),
            "max_train_samples": 16,
            "max_eval_samples": 12,
        },
        "retrieval": {"k": 2},
        "rewards": [
            {"name": "exact_match"},
            {"name": "format", "weight": 0.5},
            {"name": f"{Path(__file__).parents[1] / 'plugins.py'}:text_hash", "weight": 0.1},
        ],
        "bootstrap": dict(TINY_MODEL),
        "compare": {
            "sft_steps": 2,
            "sft_batch_size": 4,
            "updated_facts_per_domain": 2,
            "new_families_per_domain": 1,
        },
        "training": {
            "output_dir": str(root / "unused"),
            "learning_rate": 0.05,
            "per_device_train_batch_size": 4,
            "num_generations": 2,
            "max_completion_length": 6,
            "max_steps": 2,
            "logging_steps": 1,
            "save_steps": 100,
            "beta": 0.04,
        },
        "eval": {"max_new_tokens": 6, "batch_size": 16},
    }
    bootstrap(from_dict(raw))
    return raw


@pytest.fixture(scope="module")
def report(demo_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("report")
    return run_compare(from_dict(copy.deepcopy(demo_run)), out), out


def test_every_arm_runs_and_is_scored(report: tuple[dict[str, Any], Path]) -> None:
    rep, out = report
    assert list(rep["arms"]) == list(COMPARE_ARMS)
    for name, arm in rep["arms"].items():
        assert arm["label"] == LABELS[name]
        assert arm["context"] == ("closed_book" if name == "closed_book_ft" else "retrieved")
        assert arm["heldout"]["n"] == 12 and set(arm["heldout"]["per_domain"]) == {
            "datacenter",
            "legal",
            "medical",
            "mobility",
        }
        assert arm["heldout_other_context"]["context"] != arm["context"]
        assert (out / "arms" / name / "eval-heldout" / "metrics.json").is_file()
        lat = arm["latency"]
        assert lat["with_retrieval_s"] > 0 and lat["without_retrieval_s"] > 0
        cost = arm["cost"]
        if name == "rag":
            assert cost["steps"] == 0 and cost["trainable_params"] == 0 and cost["adapter_bytes"] == 0
        else:
            assert cost["steps"] == 2 and 0 < cost["trainable_share"] < 1
            assert cost["adapter_bytes"] > 0 and cost["train_peak_rss_mb"] > 50
            assert (out / "arms" / name / "adapter" / "adapter_model.safetensors").is_file()
    # The hybrid continues from RAFT's adapter: same shape, its cost includes the RAFT stage.
    hybrid, raft = rep["arms"]["hybrid"]["cost"], rep["arms"]["raft"]["cost"]
    assert hybrid["trainable_params"] == raft["trainable_params"]
    assert hybrid["cumulative_train_seconds"] >= raft["train_seconds"] + hybrid["train_seconds"] - 0.2


def test_report_files_and_keys(report: tuple[dict[str, Any], Path]) -> None:
    rep, out = report
    on_disk = json.loads((out / "report.json").read_text())
    assert on_disk["verdict"] == rep["verdict"]
    assert {
        "config",
        "model",
        "settings",
        "retrieval",
        "freshness",
        "arms",
        "verdict",
        "plots",
        "wall_seconds",
    } <= set(on_disk)
    for png in ("accuracy_by_domain.png", "freshness.png", "accuracy_vs_cost.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    md = (out / "report.md").read_text()
    for heading in (
        "## Held-out accuracy",
        "## Held-out exact match per domain",
        "## Freshness",
        "## Cost",
        "## Measured differences",
    ):
        assert heading in md
    kinds = [row["kind"] for row in rep["verdict"]]
    assert kinds.count("difference") == 10 and kinds.count("freshness") == 5 and "intake" in kinds
    row = next(r for r in rep["verdict"] if (r.get("a"), r.get("b")) == ("rag_grpo", "closed_book_ft"))
    a, b = (
        rep["arms"]["rag_grpo"]["heldout"]["exact_match"],
        rep["arms"]["closed_book_ft"]["heldout"]["exact_match"],
    )
    assert row["text"].startswith(f"RAG + GRPO - closed-book FT: {a - b:+.3f} [")  # then its 95% interval
    assert "EM on held-out" in row["text"]


def test_freshness_changes_are_applied_and_reindexed(report: tuple[dict[str, Any], Path]) -> None:
    from grpo_rag.data.io import load_corpus, load_qa
    from grpo_rag.retrieval.bm25 import BM25Retriever

    rep, out = report
    fresh = rep["freshness"]
    assert fresh["updated_questions"] == 8 and fresh["updated_passages"] == 8
    assert fresh["added_passages"] == fresh["new_entity_questions"] == 4 * 1 * 3 * 3
    assert fresh["reindex_seconds"] > 0
    corpus = load_corpus(fresh["corpus"])
    index = BM25Retriever.load(fresh["index"], corpus=corpus)  # the saved index belongs to the changed corpus
    assert len(index) == len(corpus) == 108 + 36
    after = load_qa(fresh["sets"]["updated_after"], set(corpus["id"]))
    before = load_qa(fresh["sets"]["updated_before"])
    text = dict(zip(corpus["id"], corpus["text"], strict=True))
    for old, new in zip(before, after, strict=True):
        assert old["question"] == new["question"] and old["answers"] != new["answers"]
        assert new["answers"][0] in text[new["gold_ids"][0]]
        hits = index.retrieve([new["question"]], k=3)[0]
        assert new["gold_ids"][0] in [h.id for h in hits]
    for arm in rep["arms"].values():
        assert {k: v["n"] for k, v in arm["freshness"].items()} == {
            "updated_before": 8,
            "updated_after": 8,
            "new_entities": 12,
        }  # capped by data.max_eval_samples


def test_refuses_to_overwrite_a_report(report: tuple[dict[str, Any], Path], demo_run: dict[str, Any]) -> None:
    _, out = report
    with pytest.raises(ConfigError, match="previous comparison"):
        run_compare(from_dict(copy.deepcopy(demo_run)), out)


def test_freshness_needs_demo_data(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(tiny_run)
    raw["compare"] = {"arms": ["rag"]}
    with pytest.raises(ConfigError, match="compare.freshness"):
        run_compare(from_dict(raw), tmp_path / "out")
    raw["compare"]["freshness"] = False
    rep = run_compare(from_dict(raw), tmp_path / "out2")
    assert rep["freshness"] is None and list(rep["arms"]) == ["rag"]
    assert not (tmp_path / "out2" / "freshness.png").exists()


@pytest.mark.parametrize(
    ("compare", "message"),
    [
        ({"arms": ["rag", "closed_book"]}, "did you mean 'closed_book_ft'"),
        ({"arms": ["hybrid"]}, "add 'raft'"),
        ({"freshness": "always"}, "compare.freshness: expected bool"),
        ({"sft_steps": 0}, "compare.sft_steps"),
        ({"sft_stepz": 3}, "did you mean 'sft_steps'"),
    ],
)
def test_bad_compare_sections(compare: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        from_dict({"compare": compare})


def test_documents_freshness_holds_passages_out_of_training(demo_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.data.io import load_corpus, load_qa

    raw = copy.deepcopy(demo_run)
    raw["compare"] = {
        "arms": ["rag"],
        "freshness_kind": "documents",
        "fresh_questions": 4,
        "score": "lenient",
        "bootstrap_samples": 50,
    }
    rep = run_compare(from_dict(raw), tmp_path / "out")
    fresh = rep["freshness"]
    assert fresh["kind"] == "documents" and fresh["fresh_questions"] == 4
    full, kept = set(load_corpus(fresh["corpus"])["id"]), set(load_corpus(fresh["train_corpus"])["id"])
    assert len(full - kept) == fresh["held_out_passages"] > 0
    assert all(set(g) <= full - kept for g in load_qa(fresh["sets"]["with_documents"])["gold_ids"])
    arm_dir = tmp_path / "out" / "arms" / "rag"
    removed = full - kept
    lines = (arm_dir / "eval-without_documents" / "predictions.jsonl").read_text().splitlines()
    assert lines and not any(set(json.loads(x)["passage_ids"]) & removed for x in lines)  # not indexed yet
    with_docs = json.loads((arm_dir / "eval-with_documents" / "metrics.json").read_text())
    assert with_docs["recall_at_k"] > 0.0
    heldout = rep["arms"]["rag"]["heldout"]
    assert "strict_exact_match" in heldout and len(rep["arms"]["rag"]["heldout_scores"]["id"]) == heldout["n"]
    assert any(r["kind"] == "domain_best" for r in rep["verdict"])
    text = (tmp_path / "out" / "report.md").read_text()
    assert "new questions, documents added" in text and "EM and F1 are lenient" in text
