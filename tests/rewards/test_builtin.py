"""Tests for the built-in rewards (grpo_rag.rewards.builtin) on hand-made and adversarial cases (registry: test_reward_plugins)."""

from __future__ import annotations

from typing import Any

import pytest

from grpo_rag.errors import RewardError
from grpo_rag.rewards import builtin as rewards
from grpo_rag.rewards.registry import resolve
from grpo_rag.rewards.scoring import normalize_answer

PASSAGES = [
    "The turbine at Kelso delivers 480 kW at full load and was built in 1998.",
    "Kelso is a town in the Scottish Borders with a population of about 5,000.",
    "A rival design from Denmark was also rated at 480 kW.",
]
ANSWERABLE: dict[str, Any] = {
    "answers": ["480 kW"],
    "passages": PASSAGES,
    "passage_ids": ["kelso-1", "kelso-2", "dk-1"],
    "gold_ids": ["kelso-1"],
    "answerable": True,
    "domain": "energy",
    "question": "How much power does the Kelso turbine deliver?",
}
UNANSWERABLE = {**ANSWERABLE, "answers": [], "gold_ids": [], "answerable": False}
CLOSED_BOOK = {**ANSWERABLE, "passages": [], "passage_ids": [], "gold_ids": []}

BUILTINS = ("exact_match", "f1", "format", "grounded", "citation", "abstain")


def run_reward(name: str, completions: list[Any], row: dict[str, Any], **options: Any) -> list[float | None]:
    """Call a registered reward the way TRL does: one column item per completion, plus TRL's extras."""
    columns = {key: [value] * len(completions) for key, value in row.items()}
    fn = resolve(name)
    return fn(
        prompts=["prompt"] * len(completions),
        completions=completions,
        completion_ids=[[0] * 3] * len(completions),
        trainer_state=None,
        log_extra=lambda *a, **k: None,
        log_metric=lambda *a, **k: None,
        **columns,
        **options,
    )


LONG_TAIL = "<answer>480 kW</answer> [1]" + " and so on" * 5000  # 50k characters of rambling
LONG_UNCLOSED = "<answer>" + "480 kW " * 7200  # 50k characters, never closed

# completion -> expected (exact_match, f1, format, grounded, citation f1, abstain) on the ANSWERABLE row.
ANSWERABLE_CASES = {
    "correct": ("<answer>480 kW</answer> [1]", (1.0, 1.0, 1.0, 1.0, 1.0, 0.0)),
    # Supported by what it cites, but not by the gold passage: only the citation reward objects.
    "right answer, wrong passage": ("<answer>480 kW</answer> [3]", (1.0, 1.0, 1.0, 1.0, 0.0, 0.0)),
    # [7] was never retrieved: not grounded, format loses half, citation precision 1/2.
    "cites unretrieved passage": ("<answer>480 kW</answer> [1][7]", (1.0, 1.0, 0.5, 0.0, 2 / 3, 0.0)),
    "no citation": ("<answer>480 kW</answer>", (1.0, 1.0, 0.5, 0.0, 0.0, 0.0)),
    # The whole passage pasted (14 tokens): F1 is 2*(2/14)*1/(2/14+1) = 1/4 and it is not a grounded answer.
    "whole passage pasted": (f"<answer>{PASSAGES[0]}</answer> [1]", (0.0, 0.25, 1.0, 0.0, 1.0, 0.0)),
    "unicode and punctuation": ("<answer>４８０ ｋＷ.</answer> [1]", (1.0, 1.0, 1.0, 1.0, 1.0, 0.0)),
    "smart quotes": ("<answer>“480 kW”</answer> [1]", (1.0, 1.0, 1.0, 1.0, 1.0, 0.0)),
    "empty answer": ("<answer></answer> [1]", (0.0, 0.0, 0.25, 0.0, 1.0, 0.0)),
    "missing answer tag": ("480 kW [1]", (0.0, 0.0, 0.0, 0.0, 1.0, 0.0)),
    "text before the tag": ("Sure. <answer>480 kW</answer> [1]", (1.0, 1.0, 0.25, 1.0, 1.0, 0.0)),
    "very long tail": (LONG_TAIL, (1.0, 1.0, 0.25, 1.0, 1.0, 0.0)),
    "very long unclosed": (LONG_UNCLOSED, (0.0, 2 / 7201, 0.25, 0.0, 0.0, 0.0)),
    "abstains on answerable": ("<answer>unanswerable</answer>", (0.0, 0.0, 1.0, 0.0, 0.0, -0.5)),
    "conversational": (
        [{"role": "assistant", "content": "<answer>480 kW</answer> [1]"}],
        (1.0, 1.0, 1.0, 1.0, 1.0, 0.0),
    ),
}


@pytest.mark.parametrize("case", list(ANSWERABLE_CASES))
def test_builtins_on_answerable_question(case: str) -> None:
    completion, expected = ANSWERABLE_CASES[case]
    got = tuple(run_reward(name, [completion], ANSWERABLE)[0] for name in BUILTINS)
    assert got == pytest.approx(expected), dict(zip(BUILTINS, got, strict=True))


# completion -> expected (exact_match, f1, format, grounded, citation, abstain) on the UNANSWERABLE row.
UNANSWERABLE_CASES = {
    "abstains": ("<answer>Unanswerable.</answer>", (1.0, 1.0, 1.0, None, None, 1.0)),
    "abstains in chat form": (
        [{"role": "assistant", "content": "<answer>unanswerable</answer>"}],
        (1.0, 1.0, 1.0, None, None, 1.0),
    ),
    "answers anyway": ("<answer>480 kW</answer> [1]", (0.0, 0.0, 1.0, None, None, 0.0)),
    "no tag": ("I do not know", (0.0, 0.0, 0.0, None, None, 0.0)),
}


@pytest.mark.parametrize("case", list(UNANSWERABLE_CASES))
def test_builtins_on_unanswerable_question(case: str) -> None:
    completion, expected = UNANSWERABLE_CASES[case]
    got = tuple(run_reward(name, [completion], UNANSWERABLE)[0] for name in BUILTINS)
    assert got == expected


def test_closed_book_format_and_grounded() -> None:
    completions = ["<answer>480 kW</answer>", "<answer>480 kW</answer> [1]"]
    assert run_reward("format", completions, CLOSED_BOOK) == [1.0, 0.5]
    assert run_reward("grounded", completions, CLOSED_BOOK) == [None, None]
    assert run_reward("citation", completions, CLOSED_BOOK) == [None, None]


def test_grounded_leaves_yes_no_questions_unscored() -> None:
    # "no" does occur in the cited passage, yet a verdict is not a span a passage can support: unscored, so
    # GRPO is not pushed away from answering yes/no questions; a span answer to the same passages still scores.
    row = {**ANSWERABLE, "answers": ["No"], "passages": ["There is no turbine at Kelso.", "Kelso"]}
    completions = ["<answer>no</answer> [1]", "<answer>yes</answer> [2]"]
    assert run_reward("grounded", completions, row) == [None, None]
    assert run_reward("grounded", ["<answer>turbine</answer> [1]"], {**row, "answers": ["turbine"]}) == [1.0]
    assert run_reward("grounded", ["<answer>no</answer> [1]"], {**row, "answers": ["no", "none"]}) == [1.0]
    assert run_reward("exact_match", completions, row) == [1.0, 0.0]


def test_grounded_f1_pays_the_citation_only_as_far_as_the_answer_is_right() -> None:
    completions = [
        "<answer>480 kW</answer> [1]",  # right and supported by what it cites
        "<answer>1998</answer> [1]",  # the gaming case: a span of the cited passage, but the wrong answer
        "<answer>480 kW at full load</answer> [1]",  # supported, partly right: F1 4/7
        "<answer>480 kW</answer> [2]",  # right, but the cited passage does not hold it
        "<answer>480 kW</answer>",  # right, cites nothing
        "480 kW [1]",  # no answer tag: nothing to ground
    ]
    got = run_reward("grounded_f1", completions, ANSWERABLE)
    assert got[:2] == [1.0, 0.0] and got[2] == pytest.approx(4 / 7) and got[3:] == [0.0, 0.0, 0.0]
    assert run_reward("grounded", completions[1:2], ANSWERABLE) == [1.0]  # what grounded alone pays for it


def test_grounded_f1_is_unscored_where_grounded_is() -> None:
    yes_no = {**ANSWERABLE, "answers": ["no"], "passages": ["There is no turbine at Kelso."]}
    assert run_reward("grounded_f1", ["<answer>no</answer> [1]"], yes_no) == [None]
    assert run_reward("grounded_f1", ["<answer>480 kW</answer> [1]"], CLOSED_BOOK) == [None]
    assert run_reward("grounded_f1", ["<answer>unanswerable</answer>"], UNANSWERABLE) == [None]
    with pytest.raises(RewardError, match="max_answer_fraction"):
        run_reward("grounded_f1", ["<answer>480 kW</answer> [1]"], ANSWERABLE, max_answer_fraction=0)


def test_batch_keeps_alignment() -> None:
    completions = ["<answer>480 kW</answer> [1]", "<answer>5,000</answer> [2]", "nothing"]
    columns = {key: [value] * 3 for key, value in ANSWERABLE.items()}
    columns["answers"] = [["480 kW"], ["5000"], ["x"]]
    columns["gold_ids"] = [["kelso-1"], ["kelso-1"], []]
    kwargs = {"prompts": ["p"] * 3, "completions": completions, **columns}
    assert rewards.exact_match(**kwargs) == [1.0, 1.0, 0.0]
    assert rewards.grounded(**kwargs) == [1.0, 1.0, 0.0]
    assert rewards.citation(**kwargs) == [1.0, 0.0, None]


def test_citation_modes() -> None:
    completion = ["<answer>480 kW</answer> [1][2]"]
    row = {**ANSWERABLE, "gold_ids": ["kelso-1", "dk-1"]}
    assert run_reward("citation", completion, row, mode="precision") == [0.5]
    assert run_reward("citation", completion, row, mode="recall") == [0.5]
    assert run_reward("citation", completion, row, mode="f1") == [0.5]
    with pytest.raises(RewardError, match="mode"):
        run_reward("citation", completion, row, mode="accuracy")


def test_abstain_penalty_option() -> None:
    assert run_reward("abstain", ["<answer>unanswerable</answer>"], ANSWERABLE, penalty=2.0) == [-2.0]


def test_length_words_and_tokens() -> None:
    words = ["one two three four", "1 2 3 4 5 6", "1 2 3 4 5 6 7 8", "x " * 25_000]
    assert rewards.length(prompts=[""] * 4, completions=words, budget=4, unit="words") == [
        0.0,
        -0.5,
        -1.0,
        -1.0,
    ]
    ids = [[1] * 10, [1] * 15, [1] * 40]
    got = rewards.length(prompts=[""] * 3, completions=["a", "b", "c"], completion_ids=ids, budget=10)
    assert got == [0.0, -0.5, -1.0]
    # Without completion_ids (e.g. in evaluation) words stand in for tokens.
    assert rewards.length(prompts=[""], completions=["a b c"], budget=2) == [-0.5]


def test_missing_required_column_is_a_reward_error() -> None:
    with pytest.raises(RewardError, match="'answers'"):
        rewards.exact_match(prompts=["p"], completions=["<answer>x</answer>"])


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<answer>480 kW</answer> [1]", 1.0),
        ("<answer>48 kW</answer> [1]", 2 * 5 / 11),  # a digit dropped in the copy: partial credit, EM 0
        ("<answer>480 MW</answer> [3]", 2 * 5 / 12),  # another unit: same credit as any 1-char slip
        ("<answer></answer> [1]", 0.0),
        ("no tag at all", 0.0),
        (f"<answer>{PASSAGES[0]}</answer> [1]", 12 / (len(normalize_answer(PASSAGES[0])) + 6)),  # pasted: low
        ("<answer>４８０ ｋＷ</answer> [1]", 1.0),  # full-width unicode normalises to the gold
        (LONG_UNCLOSED, 12 / (len(normalize_answer(LONG_UNCLOSED[8:])) + 6)),  # bounded, not matched: ~0
    ],
)
def test_char_similarity_partial_credit_for_near_misses(completion: str, expected: float) -> None:
    assert run_reward("char_similarity", [completion], ANSWERABLE) == [pytest.approx(expected, abs=1e-3)]
    assert run_reward("char_similarity", ["<answer>Unanswerable</answer>"], UNANSWERABLE) == [1.0]
    assert run_reward("char_similarity", ["<answer>480 kW</answer>"], UNANSWERABLE) == [0.0]
