"""Counterfactual augmentation: swap a question's gold value in its passage for one no model has seen.

Memorising "entity -> value" cannot predict a swapped value; only reading it out of the passage can. The
warm start (`bootstrap.py`) and GRPO training (`data.counterfactual_fraction`) both use it to reward
grounding over recall.
"""

from __future__ import annotations

import random
import re
from typing import Any

from datasets import Dataset

from grpo_rag.pipeline.prepare import PromptOptions

_VOWELS = "aeiouy"
_CONSONANTS = "bcdfghjklmnpqrstvwxz"


def novel_value(value: str, rng: random.Random) -> str:
    """A value of the same shape that no training answer has: digits redrawn, or the letters of a one-word value.

    "57 degrees" -> "83 degrees", "Drygrur" -> "Klosvex". Unlike a value taken from other answers, it cannot
    be recalled from training, so only copying it out of the passage predicts it.
    """

    def redraw(ch: str, first: bool) -> str:
        if ch.isdigit():
            return rng.choice("123456789" if first else "0123456789")
        low = ch.lower()
        pool = _VOWELS if low in _VOWELS else _CONSONANTS if low in _CONSONANTS else None
        if pool is None:
            return ch
        new = rng.choice(pool)
        return new.upper() if ch.isupper() else new

    has_digits = any(ch.isdigit() for ch in value)
    one_word = len(value.split()) == 1
    out = []
    for word in value.split(" "):
        if has_digits:
            out.append("".join(redraw(c, i == 0) if c.isdigit() else c for i, c in enumerate(word)))
        elif one_word:
            out.append("".join(redraw(c, False) for c in word))
        else:
            out.append(word)
    return " ".join(out)


def counterfactual(row: dict[str, Any], value: str, options: PromptOptions | None = None) -> dict[str, Any]:
    """The row with its first answer replaced by `value` in its gold passages, answers and prompt.

    Rows whose gold passages do not all contain the answer verbatim are returned unchanged.
    """
    answer = row["answers"][0] if row["answers"] else None
    gold = set(row["gold_ids"])
    hits = [i for i, pid in enumerate(row["passage_ids"]) if pid in gold]
    pattern = re.compile(rf"(?<!\w){re.escape(answer)}(?!\w)") if answer else None
    if pattern is None or not hits or any(not pattern.search(row["passages"][i]) for i in hits):
        return row
    out = dict(row)
    out["passages"] = [
        pattern.sub(lambda _: value, p) if i in hits else p for i, p in enumerate(row["passages"])
    ]
    out["answers"] = [value]
    out["prompt"] = (options or PromptOptions()).render(
        row["question"], out["passages"], row["passage_titles"]
    )
    return out


def shape(value: str, domain: str = "") -> tuple[str, ...]:
    """What a swapped-in value must share with the original: domain, word count, digit counts, unit words."""
    has_digits = any(ch.isdigit() for ch in value)
    words = tuple(
        f"<{sum(c.isdigit() for c in w)} digits>"
        if any(c.isdigit() for c in w)
        else (w if has_digits else "<word>")
        for w in value.split()
    )
    return (domain, *words)


class ValueSource:
    """Draws counterfactual values: `novel` ones (`novel_value`) or `pool`: another answer of the same shape.

    Pool values are real answers of other questions (same domain, words, digit counts and units), so the
    swapped prompt stays in distribution while the entity -> value pairing is new.
    """

    def __init__(self, prepared: Dataset, mode: str, rng: random.Random) -> None:
        self.mode, self.rng = mode, rng
        self.pool: dict[tuple[str, ...], list[str]] = {}
        domains = prepared["domain"] if "domain" in prepared.column_names else [""] * len(prepared)
        for answers, domain in zip(prepared["answers"], domains, strict=True):
            if answers:
                self.pool.setdefault(shape(answers[0], domain), []).append(answers[0])

    def draw(self, value: str, domain: str) -> str:
        if self.mode == "novel":
            return novel_value(value, self.rng)
        candidates = self.pool.get(shape(value, domain), [])
        others = [c for c in candidates if c != value]
        return self.rng.choice(others) if others else novel_value(value, self.rng)


def augment_dataset(
    prepared: Dataset, fraction: float, seed: int, options: PromptOptions, values: str = "pool"
) -> Dataset:
    """A copy of prepared rows where a seeded `fraction` of the answerable ones carry swapped gold values."""
    if fraction <= 0:
        return prepared
    rng = random.Random(seed)
    source = ValueSource(prepared, values, rng)
    rows = []
    for row in prepared:
        if row["answers"] and row.get("answerable", True) and rng.random() < fraction:
            row = counterfactual(row, source.draw(row["answers"][0], row.get("domain", "")), options)
        rows.append(row)
    return Dataset.from_list(rows, features=prepared.features)
