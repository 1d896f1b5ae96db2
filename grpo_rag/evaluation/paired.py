"""Paired comparisons of two evaluations on the same questions: the difference and its 95% bootstrap interval.

Two checkpoints scored on the same 300 questions differ by a few points even when training did nothing (a
handful of answers flip). Resampling the questions, each with both its scores, says how far apart they are
beyond that. Used by `grpo-rag compare` (verdict rows) and the demo (GRPO over the prompted model and any warm start).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

#: Resamples for the intervals when a caller has no setting of its own (2,000 gives stable 2.5/97.5% quantiles).
DEFAULT_SAMPLES = 2000


def question_scores(eval_dir: Path, lenient: bool) -> dict[str, list[Any]]:
    """Per-question id, domain, EM and F1 of one evaluation, read from its predictions.jsonl."""
    em, f1 = ("lenient_exact_match", "lenient_f1") if lenient else ("exact_match", "f1")
    rows = [
        json.loads(line) for line in (Path(eval_dir) / "predictions.jsonl").read_text().splitlines() if line
    ]
    return {
        "id": [r["id"] for r in rows],
        "domain": [r["domain"] for r in rows],
        "exact_match": [r[em] for r in rows],
        "f1": [r[f1] for r in rows],
    }


def paired_bootstrap(
    a: list[float], b: list[float], samples: int, seed: int = 0
) -> tuple[float, float] | None:
    """95% interval of mean(a) - mean(b) over questions resampled with replacement (a[i], b[i]: one question)."""
    if samples <= 0 or not a or len(a) != len(b):
        return None
    diffs = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    picks = np.random.default_rng(seed).integers(0, len(diffs), size=(samples, len(diffs)))
    lo, hi = np.quantile(diffs[picks].mean(axis=1), [0.025, 0.975])
    return float(lo), float(hi)


def paired_difference(
    a: dict[str, list[Any]], b: dict[str, list[Any]], metric: str, samples: int = DEFAULT_SAMPLES
) -> dict[str, Any] | None:
    """mean(a) - mean(b) of `metric` on the questions both scored, its 95% interval and how many answers differ.

    `a` and `b` are `question_scores` results; None when they share no question.
    """
    by_id = dict(zip(b["id"], b[metric], strict=True))
    pairs = [(x, by_id[i]) for i, x in zip(a["id"], a[metric], strict=True) if i in by_id]
    if not pairs:
        return None
    xa, xb = [p[0] for p in pairs], [p[1] for p in pairs]
    ci = paired_bootstrap(xa, xb, samples)
    return {
        "difference": float(np.mean(xa) - np.mean(xb)),
        "ci95": None if ci is None else list(ci),
        "questions": len(pairs),
        "changed": sum(x != y for x, y in pairs),
    }
