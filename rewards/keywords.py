"""Example plug-in: reward answers that use a domain's vocabulary, configured per domain.

Reference it as `rewards/keywords.py:mentions_domain_term` with
`kwargs: {terms: {energy: [kW, MW, turbine]}, bonus: 0.5}`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from grpo_rag.rewards.scoring import completion_text, normalize_answer, parse_completion


def mentions_domain_term(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    terms: Mapping[str, Sequence[str]] | None = None,
    bonus: float = 1.0,
    **kwargs: Any,
) -> list[float | None]:
    """`bonus` when the answer contains one of its domain's `terms`; None for domains with no terms listed."""
    terms = terms or {}
    # Match whole normalised token sequences, so "kw" does not match inside "kwh".
    wanted = {domain: [f" {normalize_answer(t)} " for t in words] for domain, words in terms.items()}
    domains = kwargs.get("domain") or ["default"] * len(completions)
    rewards: list[float | None] = []
    for completion, domain in zip(completions, domains, strict=True):
        needles = [n for n in wanted.get(domain, []) if n.strip()]
        if not needles:
            rewards.append(None)
            continue
        answer = parse_completion(completion_text(completion)).answer or ""
        haystack = f" {normalize_answer(answer)} "
        rewards.append(bonus if any(needle in haystack for needle in needles) else 0.0)
    return rewards
