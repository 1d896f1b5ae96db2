"""grpo_rag.bench plumbing on tiny inputs (`--quick`): every section runs and the report holds its figures."""

from __future__ import annotations

import json
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _bench() -> ModuleType:
    from grpo_rag.bench import run

    return run


def test_quick_retrieval_section_compares_both_engines(tmp_path: Path) -> None:
    pytest.importorskip("rank_bm25")
    assert _bench().main(["--quick", "--only", "retrieval", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    for label in ("real", "synthetic"):
        row = res["retrieval"][label]
        assert row["grpo_rag"]["qps"] > 0 and row["rank_bm25"]["qps"] > 0
        assert row["qps_ratio"] == pytest.approx(row["grpo_rag"]["qps"] / row["rank_bm25"]["qps"])
        assert row["grpo_rag"]["hits_per_query"] > 0
        assert row["grpo_rag"]["load_mmap"]["load_s"] > 0
    assert (
        res["retrieval"]["synthetic"]["passages"] == res["retrieval"]["synthetic_corpus"]["passages"] == 2000
    )
    backends = 2 if res["retrieval"]["real"]["grpo_rag_numba"] else 1  # numba rows only where it is installed
    assert [g["goal"].split(" (")[0] for g in res["goals"]] == ["retrieval queries/s >= 50x rank_bm25"] * (
        2 * backends
    )
    if backends == 2:
        jit = res["retrieval"]["real"]["grpo_rag_numba"]
        real = res["retrieval"]["real"]["grpo_rag"]
        assert jit["backend"] == "numba" and jit["hits_per_query"] == real["hits_per_query"]
    md = (tmp_path / "results.md").read_text()
    assert "## Retrieval" in md and "| real | 400 |" in md and "## Overhead" not in md


def test_unknown_section_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit) as exc:
        _bench().main(["--quick", "--only", "retrieval,speed", "--out", str(tmp_path)])
    assert exc.value.code == 2


@pytest.mark.slow
def test_quick_run_of_every_section(tmp_path: Path) -> None:
    pytest.importorskip("rank_bm25")
    assert _bench().main(["--quick", "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "results.json").read_text())
    overhead = res["overhead"]
    assert overhead["ratio"] == pytest.approx(
        overhead["grpo_rag_s_per_step"] / overhead["bare_trl_s_per_step"]
    )
    assert overhead["grpo_rag"][0]["steps"] == overhead["bare_trl"][0]["steps"] == 2
    cells = res["memory"]["cells"]
    assert cells["full"]["trainable_params"] == cells["full"]["total_params"]
    assert 0 < cells["lora"]["trainable_params"] < cells["lora"]["total_params"]
    rows = res["throughput"]["timing_model"]["rows"]
    assert {(r["group"], r["length"]) for r in rows} == {(2, 4), (4, 4)}
    assert all(r["tokens"] == 2 * r["group"] * r["length"] for r in rows)
    md = (tmp_path / "results.md").read_text()
    for heading in ("## Retrieval", "## Overhead", "## Memory", "## Throughput", "## Goals"):
        assert heading in md
