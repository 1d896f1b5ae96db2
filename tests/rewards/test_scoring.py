"""Tests for grpo_rag.rewards.scoring: normalisation, EM/F1, the completion parser, grounding and citations."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from grpo_rag.errors import RewardError
from grpo_rag.prompts.templates import format_target
from grpo_rag.rewards.scoring import (
    Parsed,
    citation_scores,
    completion_text,
    exact_match,
    f1,
    grounded,
    is_verdict,
    normalize_answer,
    parse_completion,
    score_completion,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("The Eiffel Tower", "eiffel tower"),
        ("  a   cat\tand\nan owl ", "cat and owl"),
        ("480 kW.", "480 kw"),
        ("U.S.A.", "usa"),
        ("state-of-the-art", "stateoftheart"),
        ("“Quoted” ‘words’", "quoted words"),  # smart quotes are punctuation
        ("ＡＢＣ　１２３", "abc 123"),  # full-width letters, digits and space
        ("ﬁne", "fine"),  # compatibility ligature
        ("Straße", "strasse"),  # case folding, not just lowercasing
        ("Café", "café"),
        ("Cafe\u0301", "café"),  # decomposed accent composes
        ("theatre", "theatre"),  # articles only as whole words
        ("the", ""),
        ("", ""),
    ],
)
def test_normalize_answer(raw: str, expected: str) -> None:
    assert normalize_answer(raw) == expected


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_normalize_is_idempotent(text: str) -> None:
    once = normalize_answer(text)
    assert normalize_answer(once) == once


@pytest.mark.parametrize(
    ("pred", "golds", "em", "f1_score"),
    [
        ("Paris", ["paris"], 1.0, 1.0),
        ("the Paris!", ["Paris"], 1.0, 1.0),
        ("Paris France", ["Paris"], 0.0, 2 / 3),
        ("London", ["Paris", "London"], 1.0, 1.0),
        ("big red dog", ["red dog", "big cat"], 0.0, 0.8),
        ("dog", ["cat"], 0.0, 0.0),
        ("", ["Paris"], 0.0, 0.0),
        (None, ["Paris"], 0.0, 0.0),
        ("Paris", [], 0.0, 0.0),
        ("４８０ ｋＷ", ["480 kW"], 1.0, 1.0),
    ],
)
def test_exact_match_and_f1(pred: str | None, golds: list[str], em: float, f1_score: float) -> None:
    assert exact_match(pred, golds) == em
    assert f1(pred, golds) == pytest.approx(f1_score)


@pytest.mark.parametrize(
    ("text", "answer", "citations", "well_formed", "abstained"),
    [
        (" <answer>480 kW</answer> [2]", "480 kW", [2], True, False),
        ("<answer>yes</answer> [1][3]", "yes", [1, 3], True, False),
        ("<answer>yes</answer> [1, 3]", "yes", [1, 3], True, False),
        ("<answer>yes</answer> [3][1][3]", "yes", [3, 1], True, False),  # ordered, deduplicated
        ("<answer>yes [2]</answer>", "yes", [2], True, False),  # markers stripped from the answer
        ("<ANSWER>Unanswerable.</Answer>", "Unanswerable.", [], True, True),
        ("<answer>x</answer>", "x", [], True, False),  # citations are not part of well-formedness
        ("no tags at all [1]", None, [1], False, False),
        ("", None, [], False, False),
        ("<answer></answer> [1]", "", [1], False, False),  # empty answer
        ("<answer>   </answer>", "", [], False, False),
        ("<answer>480 kW", "480 kW", [], False, False),  # unclosed: the rest is the answer
        ("<answer>a</answer> <answer>b</answer>", "a", [], False, False),  # first one counts
        ("Sure! <answer>a</answer> [1]", "a", [1], False, False),  # text before
        ("<answer>a</answer> [1] because...", "a", [1], False, False),  # text after
        ("<answer>a</answer> [0][99]", "a", [0, 99], True, False),  # range is checked elsewhere
        ("<answer>a</answer> [1234567]", "a", [], False, False),  # too many digits: not a citation
        ("</answer>a<answer>b</answer>", "b", [], False, False),
    ],
)
def test_parse_completion(
    text: str, answer: str | None, citations: list[int], well_formed: bool, abstained: bool
) -> None:
    parsed = parse_completion(text)
    assert parsed == Parsed(answer, citations, well_formed, abstained)


@given(st.text())
@settings(max_examples=300, deadline=None)
def test_parse_never_raises(text: str) -> None:
    parsed = parse_completion(text)
    assert parsed.answer is None or isinstance(parsed.answer, str)
    assert all(isinstance(n, int) for n in parsed.citations)
    assert len(set(parsed.citations)) == len(parsed.citations)


@given(
    st.text(alphabet=st.characters(blacklist_characters="[]<>"), max_size=40),
    st.lists(st.integers(min_value=1, max_value=999_999), max_size=5),
)
@settings(max_examples=300, deadline=None)
def test_format_target_round_trips(answer: str, citations: list[int]) -> None:
    parsed = parse_completion(format_target(answer, citations))
    assert parsed.answer == answer.strip()
    assert parsed.citations == list(dict.fromkeys(citations))
    assert parsed.well_formed == bool(answer.strip())


def test_long_completion_parses() -> None:
    # Wall-clock limits live in `make bench` (rewards_s per GRPO step), not here: a loaded machine flakes them.
    text = "<answer>" + "word [1] " * 6000 + "</answer>" + " [2]" * 2000
    parsed = parse_completion(text)
    assert parsed.citations == [1, 2]
    assert parsed.answer is not None and "[" not in parsed.answer


def test_completion_text_forms() -> None:
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "hi"}]) == "hi"
    blocks = [
        {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]}
    ]
    assert completion_text(blocks) == "ab"
    mixed = [{"role": "assistant", "content": "x"}, {"role": "tool", "content": "IGNORED"}]
    assert completion_text(mixed) == "x"
    with pytest.raises(RewardError, match="int"):
        completion_text(42)


PASSAGES = [
    "The turbine at Kelso delivers 480 kW at full load and was built in 1998.",
    "Kelso is a town in the Scottish Borders with a population of about 5,000.",
    "Wind farms in Scotland produced a record amount of power in 2020.",
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>480 kW</answer> [1]", 1.0),
        ("<answer>480 KW.</answer> [2][1]", 1.0),  # one supporting citation is enough
        ("<answer>480 kW</answer> [2]", 0.0),  # cited passage does not say it
        ("<answer>480 kW</answer>", 0.0),  # no citation
        ("<answer>480 kW</answer> [1][4]", 0.0),  # a citation that was never retrieved
        ("<answer>480 kW</answer> [0]", 0.0),
        ("<answer>unanswerable</answer> [1]", 0.0),
        ("<answer></answer> [1]", 0.0),
        ("no tag [1]", 0.0),
        ("<answer>kW 480</answer> [1]", 0.0),  # token sequence, not a bag of words
        (
            "<answer>Kelso is a town in the Scottish Borders with a population of about 5,000</answer> [2]",
            0.0,
        ),
    ],
)
def test_grounded(text: str, expected: float) -> None:
    assert grounded(parse_completion(text), PASSAGES) == expected


def test_grounded_limits() -> None:
    half = parse_completion("<answer>The turbine at Kelso delivers 480 kW</answer> [1]")  # 6 of 14 tokens
    assert grounded(half, PASSAGES) == 1.0
    assert grounded(half, PASSAGES, max_answer_fraction=0.3) == 0.0
    assert grounded(half, PASSAGES, max_answer_tokens=5) == 0.0
    one_word = parse_completion("<answer>Paris</answer> [1]")
    assert grounded(one_word, ["Paris"]) == 1.0  # a one-token answer is never too long


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (["yes"], True),
        (["No."], True),
        (["maybe", "yes"], True),
        (["no", "none"], False),
        (["True"], True),
        ([], False),
    ],
)
def test_is_verdict(answers: list[str], expected: bool) -> None:
    assert is_verdict(answers) is expected


def test_score_completion_leaves_grounded_of_yes_no_questions_unset() -> None:
    row = {"passages": ["No, it does not."], "passage_ids": ["p1"], "gold_ids": ["p1"], "answerable": True}
    scores = score_completion("<answer>no</answer> [1]", answers=["no"], **row)
    assert scores["grounded"] is None and scores["exact_match"] == 1.0
    assert score_completion("<answer>it</answer> [1]", answers=["it"], **row)["grounded"] == 1.0


def test_citation_scores() -> None:
    ids = ["p1", "p2", "p3"]
    assert citation_scores(parse_completion("<answer>a</answer> [1]"), ids, []) is None
    assert citation_scores(parse_completion("<answer>a</answer> [1]"), ids, ["p1"]) == (1.0, 1.0)
    assert citation_scores(parse_completion("<answer>a</answer> [1][2]"), ids, ["p1"]) == (0.5, 1.0)
    assert citation_scores(parse_completion("<answer>a</answer> [1]"), ids, ["p1", "p9"]) == (1.0, 0.5)
    assert citation_scores(parse_completion("<answer>a</answer> [1][7]"), ids, ["p1"]) == (0.5, 1.0)
    assert citation_scores(parse_completion("<answer>a</answer>"), ids, ["p1"]) == (0.0, 0.0)


def test_score_completion_answerable() -> None:
    scores = score_completion(
        [{"role": "assistant", "content": "<answer>480 kW</answer> [1]"}],
        answers=["480 kW"],
        passages=PASSAGES,
        passage_ids=["a", "b", "c"],
        gold_ids=["a"],
        answerable=True,
    )
    assert scores == {
        "exact_match": 1.0,
        "f1": 1.0,
        "lenient_exact_match": 1.0,
        "lenient_f1": 1.0,
        "grounded": 1.0,
        "citation_precision": 1.0,
        "citation_recall": 1.0,
        "abstained": 0.0,
        "well_formed": 1.0,
        "answer_tokens": 2.0,
    }


@pytest.mark.parametrize(
    ("text", "em"), [("<answer>Unanswerable</answer>", 1.0), ("<answer>1998</answer> [1]", 0.0)]
)
def test_score_completion_unanswerable(text: str, em: float) -> None:
    scores = score_completion(
        text, answers=[], passages=PASSAGES, passage_ids=["a", "b", "c"], gold_ids=[], answerable=False
    )
    assert scores["exact_match"] == scores["f1"] == em
    assert scores["abstained"] == em
    assert scores["grounded"] is None
    assert scores["citation_precision"] is None and scores["citation_recall"] is None


@pytest.mark.parametrize(
    ("completion", "strict_em", "lenient_em"),
    [
        ("<answer>Catholicoi</answer> [1]", 1.0, 1.0),
        ("Catholicoi", 0.0, 1.0),  # untagged: only the lenient reading counts it
        ("\n\n  Catholicoi [2]\nThe plural is formed like Greek nouns.", 0.0, 1.0),  # first non-empty line
        ("<answer>Catholicoi\nand more text that runs on", 0.0, 1.0),  # unclosed tag: the first line
        ("Catholicoi</answer>", 0.0, 1.0),  # a stray closing tag is dropped
        ("The plural form of Catholicos is Catholicoi.", 0.0, 0.0),  # a sentence is not the answer...
        ("", 0.0, 0.0),
        ("   \n  ", 0.0, 0.0),
    ],
)
def test_lenient_scores_read_untagged_answers(completion: str, strict_em: float, lenient_em: float) -> None:
    from grpo_rag.rewards.scoring import lenient_answer, score_completion

    s = score_completion(
        completion, answers=["Catholicoi"], passages=["p"], passage_ids=["a"], gold_ids=["a"], answerable=True
    )
    assert s["exact_match"] == strict_em and s["lenient_exact_match"] == lenient_em
    assert s["lenient_f1"] >= s["f1"]
    if completion.startswith("The plural"):
        assert 0.0 < s["lenient_f1"] < 1.0  # ...but shares a token with it
        assert lenient_answer(completion) == completion
    if not completion.strip():
        assert lenient_answer(completion) is None and s["lenient_f1"] == 0.0


def test_lenient_abstention_and_the_lenient_reward_option() -> None:
    from grpo_rag.rewards.builtin import exact_match, f1
    from grpo_rag.rewards.scoring import score_completion

    s = score_completion(
        "unanswerable\n", answers=["x"], passages=[], passage_ids=[], gold_ids=[], answerable=False
    )
    assert s["lenient_exact_match"] == 1.0 and s["exact_match"] == 0.0
    completions = ["Catholicoi", "<answer>Catholicoi</answer>", "no idea"]
    cols = {"answers": [["Catholicoi"]] * 3}
    assert exact_match([], completions, **cols) == [0.0, 1.0, 0.0]
    assert exact_match([], completions, lenient=True, **cols) == [1.0, 1.0, 0.0]
    assert f1([], completions, lenient=True, **cols) == [1.0, 1.0, 0.0]
