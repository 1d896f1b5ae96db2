"""Evaluations found under a run folder, and their per-domain bar chart."""

from __future__ import annotations

import json
from pathlib import Path

from grpo_rag.reporting.evals import find_evals, headline, plot_evals


def _metrics(em: float, **extra: object) -> dict[str, object]:
    per = {"a": {"n": 2, "exact_match": em}, "b": {"n": 2, "exact_match": 1 - em}}
    return {"n": 4, "exact_match": em, "context": "retrieved", "per_domain": per, **extra}


def test_find_evals_skips_checkpoints_caches_and_other_json(tmp_path: Path) -> None:
    for folder, body in (
        ("eval", _metrics(0.5)),
        ("warm-start/eval", _metrics(0.25)),
        ("checkpoint-2/eval", _metrics(0.0)),
        ("prepared-train", _metrics(0.0)),
        ("compare", {"verdict": []}),
    ):
        (tmp_path / folder).mkdir(parents=True)
        (tmp_path / folder / "metrics.json").write_text(json.dumps(body))
    assert [name for name, _ in find_evals(tmp_path)] == ["eval", "warm-start/eval"]


def test_headline_prefers_the_lenient_figure() -> None:
    assert headline(_metrics(0.5, lenient_exact_match=0.75)) == ("lenient_exact_match", 0.75)
    assert headline(_metrics(0.5)) == ("exact_match", 0.5)


def test_plot_evals_writes_a_png(tmp_path: Path) -> None:
    path = plot_evals(tmp_path, [("eval", _metrics(0.5)), ("eval-base", _metrics(0.1))])
    assert path == tmp_path / "plots" / "eval_by_domain.png"
    assert path.read_bytes()[:4] == b"\x89PNG"
