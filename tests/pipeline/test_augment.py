"""Counterfactual augmentation: novel values of the same shape, swapped into the gold passage only."""

from __future__ import annotations

import random
import re
from collections.abc import Callable
from typing import Any

import pytest
from datasets import Dataset
from hypothesis import given
from hypothesis import strategies as st

from grpo_rag.pipeline.augment import ValueSource, augment_dataset, counterfactual, novel_value, shape
from grpo_rag.pipeline.prepare import PromptOptions


@pytest.mark.parametrize(
    ("value", "pattern"),
    [
        ("57 degrees", r"[1-9][0-9] degrees"),
        ("1995", r"[1-9][0-9]{3}"),
        ("Drygrur", r"[A-Z][a-z]{6}"),
        ("heart", r"[a-z]{5}"),
        ("North Port", r"North Port"),  # several words without digits: kept (no safe edit)
        ("", r""),
    ],
)
def test_novel_value_keeps_the_shape(value: str, pattern: str) -> None:
    assert re.fullmatch(pattern, novel_value(value, random.Random(1)))


def test_novel_values_are_mostly_new() -> None:
    rng = random.Random(0)
    assert sum(novel_value("Drygrur", rng) != "Drygrur" for _ in range(100)) >= 95


@given(st.text(max_size=30))
def test_novel_value_is_total(value: str) -> None:
    out = novel_value(value, random.Random(0))
    assert len(out) == len(value)


def test_counterfactual_swaps_the_gold_passage_and_keeps_the_instructions(
    prepared_row: Callable[..., dict[str, Any]],
) -> None:
    options = PromptOptions(instructions="Short.")
    out = counterfactual(prepared_row(), "83 degrees", options)
    assert out["answers"] == ["83 degrees"]
    assert (
        out["passages"][0] == "The tilt of Ab-Cd is 83 degrees."
        and out["passages"][1] == prepared_row()["passages"][1]
    )
    assert out["prompt"].startswith("Short.\n\n") and "83 degrees" in out["prompt"]
    assert "57 degrees" not in out["prompt"]


def test_counterfactual_leaves_rows_it_cannot_edit(prepared_row: Callable[..., dict[str, Any]]) -> None:
    row = prepared_row()
    row["passages"] = ["no answer here", "nor here"]
    assert counterfactual(row, "1 degrees") is row


def test_augment_dataset_is_seeded_and_swaps_the_requested_share(
    prepared_row: Callable[..., dict[str, Any]],
) -> None:
    prepared = Dataset.from_list([prepared_row() for _ in range(200)])
    options = PromptOptions(instructions="Short.")
    a = augment_dataset(prepared, 0.5, seed=3, options=options)
    b = augment_dataset(prepared, 0.5, seed=3, options=options)
    assert a["answers"] == b["answers"] and a.features == prepared.features
    swapped = sum(ans != ["57 degrees"] for ans in a["answers"])
    assert 70 <= swapped <= 130
    for row in a:
        assert row["answers"][0] in row["passages"][0] and row["answers"][0] in row["prompt"]
    assert augment_dataset(prepared, 0.0, seed=3, options=options) is prepared


def test_unanswerable_rows_are_left_alone(prepared_row: Callable[..., dict[str, Any]]) -> None:
    row = prepared_row()
    row["answerable"] = False
    prepared = Dataset.from_list([row] * 10)
    assert augment_dataset(prepared, 1.0, seed=0, options=PromptOptions())["answers"] == [["57 degrees"]] * 10


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("57 degrees", ("d", "<2 digits>", "degrees")),
        ("Drygrur", ("d", "<word>")),
        ("North Port", ("d", "<word>", "<word>")),
    ],
)
def test_shape(value: str, expected: tuple[str, ...]) -> None:
    assert shape(value, "d") == expected


def test_pool_values_are_other_answers_of_the_same_shape(prepared_row: Callable[..., dict[str, Any]]) -> None:
    rows = [prepared_row(v) for v in ("57 degrees", "12 degrees", "33 degrees", "450 kW", "Drygrur")]
    for row, dom in zip(rows, ("a", "a", "a", "a", "a"), strict=True):
        row["domain"] = dom
    source = ValueSource(Dataset.from_list(rows), "pool", random.Random(0))
    drawn = {source.draw("57 degrees", "a") for _ in range(50)}
    assert drawn == {"12 degrees", "33 degrees"}
    assert source.draw("57 degrees", "other-domain") != "57 degrees"  # no same-shape answer: a novel value
