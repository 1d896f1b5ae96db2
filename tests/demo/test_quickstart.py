"""The full offline demo (`make demo`) with its required figures. Slow: runs in `make test-all` only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_demo_meets_its_figures() -> None:
    subprocess.run([sys.executable, "-m", "grpo_rag.demo", "--rebuild-model"], cwd=ROOT, check=True)
    summary = json.loads((ROOT / "runs/quickstart/demo_summary.json").read_text())
    final = json.loads((ROOT / "runs/quickstart/eval/metrics.json").read_text())
    warm = json.loads((ROOT / "runs/quickstart/eval-warmstart/metrics.json").read_text())
    closed = json.loads((ROOT / "runs/quickstart/eval-closed-book/metrics.json").read_text())
    assert summary["timings_s"]["total"] <= 15 * 60
    assert final["exact_match"] - warm["exact_match"] >= 0.10
    assert final["exact_match"] >= 0.80
    assert closed["exact_match"] <= 0.05
