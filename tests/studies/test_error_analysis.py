"""Error classes of wrong answers: label, wrong gold span, other passage, training answer, nowhere."""

from __future__ import annotations

import pytest

from grpo_rag.studies.error_analysis import classify

PASSAGES = {"g": "The pump runs at 42 degrees in Arden.", "o": "The valve opens at 9 bar."}


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<answer>no</answer>", "a wrong label (yes / no / maybe)"),
        ("<answer>Arden</answer> [1]", "a wrong span of a retrieved gold passage"),
        ("<answer>9 bar</answer> [2]", "copied from another retrieved passage"),
        ("<answer>forty servers</answer>", "a training answer (recalled, not read)"),
        ("<answer>purple</answer>", "a string in no passage (bad copy)"),
        ("", "no answer"),
    ],
)
def test_classify(completion: str, expected: str) -> None:
    pred = {"completion": completion, "passage_ids": ["g", "o"]}
    assert classify(pred, PASSAGES, {"forty servers"}, {"g"}) == expected
