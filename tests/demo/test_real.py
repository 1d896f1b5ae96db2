"""The real-model demo's summary rows and table (the run itself is `make demo`, minutes long)."""

from __future__ import annotations

from grpo_rag.demo.real import row, table


def _metrics(em: float, lenient: float) -> dict:
    per = {d: {"lenient_exact_match": lenient, "lenient_f1": lenient, "n": 2} for d in ("a", "b")}
    return {
        "exact_match": em,
        "f1": em,
        "lenient_exact_match": lenient,
        "lenient_f1": lenient + 0.1,
        "well_formed": 1.0,
        "recall_at_k": 0.5,
        "n": 4,
        "per_domain": per,
    }


def test_rows_keep_the_contract_keys_with_lenient_headline_figures() -> None:
    r = row(_metrics(0.25, 0.5))
    assert r["exact_match"] == 0.5 and r["f1"] == 0.6 and r["strict_exact_match"] == 0.25
    assert r["per_domain"]["a"] == {"exact_match": 0.5, "f1": 0.5, "n": 2}
    text = table({"base / BM25": row(_metrics(0.0, 0.1)), "GRPO + LoRA / BM25": r})
    lines = text.splitlines()
    assert lines[0] == "| model | passages | EM | F1 | strict EM | EM a | EM b |"
    assert lines[3] == "| GRPO + LoRA | BM25 | 0.500 | 0.600 | 0.250 | 0.500 | 0.500 |"
