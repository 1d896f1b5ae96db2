"""Paired differences between two evaluations: pairing by question id, the interval, the changed answers."""

from __future__ import annotations

import json
from pathlib import Path

from grpo_rag.evaluation.paired import paired_bootstrap, paired_difference, question_scores


def _write(folder: Path, rows: list[tuple[str, float, float]]) -> Path:
    folder.mkdir(parents=True)
    lines = [
        {"id": i, "domain": "d", "exact_match": 0.0, "f1": 0.0, "lenient_exact_match": em, "lenient_f1": f1}
        for i, em, f1 in rows
    ]
    (folder / "predictions.jsonl").write_text("".join(json.dumps(r) + "\n" for r in lines))
    return folder


def test_paired_bootstrap_interval() -> None:
    assert paired_bootstrap([1.0] * 20, [0.0] * 20, 200) == (1.0, 1.0)
    lo, hi = paired_bootstrap([1.0, 0.0] * 50, [0.0, 0.0] * 50, 500)
    assert 0.3 < lo < 0.5 < hi < 0.7  # the mean difference is 0.5
    assert paired_bootstrap([1.0], [0.0], 0) is None
    assert paired_bootstrap([1.0, 0.0], [0.0], 100) is None  # unequal lengths: not paired


def test_question_scores_read_the_lenient_or_strict_columns(tmp_path: Path) -> None:
    folder = _write(tmp_path / "a", [("q1", 1.0, 0.5)])
    assert question_scores(folder, lenient=True) == {
        "id": ["q1"],
        "domain": ["d"],
        "exact_match": [1.0],
        "f1": [0.5],
    }
    assert question_scores(folder, lenient=False)["exact_match"] == [0.0]


def test_paired_difference_pairs_by_id_and_counts_changed_answers(tmp_path: Path) -> None:
    # b lists the questions in another order and has one question a lacks: pairing is by id, not position
    a = question_scores(_write(tmp_path / "a", [("q1", 1.0, 1.0), ("q2", 0.0, 0.5), ("q3", 1.0, 1.0)]), True)
    b = question_scores(
        _write(tmp_path / "b", [("q3", 1.0, 1.0), ("q9", 1.0, 1.0), ("q2", 0.0, 0.0), ("q1", 0.0, 1.0)]), True
    )
    em = paired_difference(a, b, "exact_match", samples=500)
    assert em is not None and em["questions"] == 3 and em["changed"] == 1
    assert abs(em["difference"] - 1 / 3) < 1e-9
    lo, hi = em["ci95"]
    assert 0.0 <= lo <= 1 / 3 <= hi <= 1.0
    f1 = paired_difference(a, b, "f1", samples=0)
    assert f1 is not None and f1["ci95"] is None and abs(f1["difference"] - 0.5 / 3) < 1e-9
    none = question_scores(_write(tmp_path / "c", [("x", 1.0, 1.0)]), True)
    assert paired_difference(a, none, "f1") is None
