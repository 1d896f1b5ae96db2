"""Example plug-in: prefer short answers. Reference it as `rewards/brevity.py:short_answer`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from grpo_rag.rewards.scoring import completion_text, parse_completion


def short_answer(
    prompts: Sequence[Any], completions: Sequence[Any], max_words: int = 5, **kwargs: Any
) -> list[float | None]:
    """1.0 for an answer of at most `max_words` words, falling linearly to 0 at twice that; 0 without a tag."""
    if max_words < 1:
        raise ValueError(f"max_words must be >= 1, got {max_words}")
    rewards: list[float | None] = []
    for completion in completions:
        answer = parse_completion(completion_text(completion)).answer
        if not answer:
            rewards.append(0.0)
            continue
        over = max(0, len(answer.split()) - max_words)
        rewards.append(max(0.0, 1.0 - over / max_words))
    return rewards
