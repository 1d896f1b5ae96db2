"""Tests for grpo_rag.prompts.templates: passage numbering, titles, plain vs chat prompts, closed-book, targets."""

from __future__ import annotations

import pytest

from grpo_rag.prompts.templates import (
    ABSTAIN_ANSWER,
    CLOSED_BOOK_INSTRUCTIONS,
    INSTRUCTIONS,
    build_prompt,
    format_passages,
    format_target,
)
from grpo_rag.rewards.scoring import parse_completion


def test_format_passages_numbers_from_one_with_titles() -> None:
    text = format_passages(["First text.", "Second\ntext  here."], ["Alpha", ""])
    assert text.splitlines() == ["[1] Alpha: First text.", "[2] Second text here."]


def test_format_passages_without_titles_and_mismatch() -> None:
    assert format_passages(["a", "b", "c"]) == "[1] a\n[2] b\n[3] c"
    assert format_passages([]) == ""
    with pytest.raises(ValueError, match="2 titles for 1 passages"):
        format_passages(["a"], ["x", "y"])


def test_plain_prompt_layout() -> None:
    prompt = build_prompt("How much power?", ["It gives 480 kW."], ["Turbine"])
    assert prompt == f"{INSTRUCTIONS}\n\n[1] Turbine: It gives 480 kW.\n\nQuestion: How much power?\nAnswer:"


def test_chat_prompt_messages() -> None:
    messages = build_prompt("How much power?", ["It gives 480 kW.", "Other."], chat=True)
    assert isinstance(messages, list)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert messages[0]["content"] == INSTRUCTIONS
    assert messages[1]["content"] == "[1] It gives 480 kW.\n[2] Other.\n\nQuestion: How much power?"


def test_closed_book() -> None:
    plain = build_prompt("Capital of France?", [])
    assert plain == f"{CLOSED_BOOK_INSTRUCTIONS}\n\nQuestion: Capital of France?\nAnswer:"
    assert "[1]" not in plain
    chat = build_prompt("Capital of France?", [], chat=True)
    assert chat[0]["content"] == CLOSED_BOOK_INSTRUCTIONS
    assert chat[1]["content"] == "Question: Capital of France?"


def test_instructions_are_short_and_name_the_format() -> None:
    for text in (INSTRUCTIONS, CLOSED_BOOK_INSTRUCTIONS):
        assert "<answer>" in text and "</answer>" in text and ABSTAIN_ANSWER in text
        assert len(text.split()) <= 40


@pytest.mark.parametrize(
    ("answer", "citations", "expected"),
    [
        ("480 kW", [2], " <answer>480 kW</answer> [2]"),
        ("yes", [1, 3], " <answer>yes</answer> [1][3]"),
        (ABSTAIN_ANSWER, [], " <answer>unanswerable</answer>"),
    ],
)
def test_format_target_round_trip(answer: str, citations: list[int], expected: str) -> None:
    target = format_target(answer, citations)
    assert target == expected
    parsed = parse_completion(target)
    assert (parsed.answer, parsed.citations, parsed.well_formed) == (answer, citations, True)
    assert parsed.abstained == (answer == ABSTAIN_ANSWER)


@pytest.mark.parametrize(
    ("answer", "citations"),
    [("a </answer> b", [1]), ("see [2]", [1]), ("ok", [0]), ("ok", [True]), ("ok", [10**6])],
)
def test_format_target_rejects_what_cannot_round_trip(answer: str, citations: list[int]) -> None:
    with pytest.raises(ValueError):
        format_target(answer, citations)


def test_configured_instructions_replace_the_defaults() -> None:
    plain = build_prompt("Q?", ["p"], instructions="Short.", closed_book_instructions="Closed.")
    assert plain.startswith("Short.\n\n[1] p")
    assert build_prompt("Q?", [], instructions="Short.", closed_book_instructions="Closed.").startswith(
        "Closed."
    )
    # None keeps the built-in text; an explicit empty string is honoured as "no instructions".
    assert build_prompt("Q?", ["p"], instructions=None).startswith(INSTRUCTIONS)
    assert build_prompt("Q?", ["p"], instructions="").startswith("\n\n[1] p")
