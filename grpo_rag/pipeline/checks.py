"""Checks on prepared data before a run spends minutes on it: warnings with figures, one line each.

- prompts that, with the completion, exceed the model's context window (they would be truncated);
- retrieved passages so long they are likely whole documents (chunk them with `grpo-rag ingest`);
- questions whose answers occur in none of their gold passages (EM and `grounded` cannot credit them).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from datasets import Dataset

from grpo_rag.rewards.scoring import LABEL_ANSWERS, normalize_answer

#: A retrieved passage longer than this (in model tokens) is likely a whole document, not a passage.
LONG_PASSAGE_TOKENS = 512


def answers_in_gold(
    answers: Sequence[Sequence[str]], gold_texts: Sequence[Sequence[str]]
) -> list[bool | None]:
    """Per question: does a normalised answer occur in one of its gold passages?

    None where it cannot be judged: no gold passage, no answer (abstain), or label answers (yes/no).
    """
    out: list[bool | None] = []
    for ans, texts in zip(answers, gold_texts, strict=True):
        keys = [normalize_answer(a) for a in ans]
        if not texts or not keys or all(k in LABEL_ANSWERS for k in keys):
            out.append(None)
            continue
        padded = [f" {normalize_answer(t)} " for t in texts]
        out.append(any(f" {k} " in t for k in keys if k for t in padded))
    return out


def reachable(prepared: Dataset) -> list[bool]:
    """Per prepared row: can a sampled answer earn the task reward from its prompt's passages?

    False only where no answer occurs in any passage shown; label answers (yes/no), abstentions and
    prompts without passages (closed-book, multi-turn search) count as reachable.
    """
    judged = answers_in_gold(prepared["answers"], prepared["passages"])
    return [j is not False for j in judged]


def model_window(name_or_path: str, trust_remote_code: bool = False) -> int | None:
    """The model's context window (max_position_embeddings) from its config, or None if unknown."""
    from transformers import AutoConfig

    try:
        config = AutoConfig.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    except (OSError, ValueError):
        return None
    return getattr(config, "max_position_embeddings", None)


def check_prompts(
    before: Dataset,
    after: Dataset,
    tokenizer: Any,
    window: int | None,
    completion_tokens: int,
    prompt_lengths: Sequence[int],
    what: str = "prompts",
) -> list[str]:
    """Warnings for `before` (retrieved passages) and `after` (final prompts, `prompt_lengths` tokens each)."""
    warnings: list[str] = []
    n = len(after)
    if "passages" in before.column_names:
        passages = [p for row in before["passages"] for p in row]
        if passages:
            lengths = [len(x) for x in tokenizer(passages, add_special_tokens=False)["input_ids"]]
            long = sum(x > LONG_PASSAGE_TOKENS for x in lengths)
            if long:
                warnings.append(
                    f"warning: {long} of {len(passages)} passages in the {what} are over {LONG_PASSAGE_TOKENS} "
                    f"tokens (longest {max(lengths)}): whole documents? chunk them with "
                    "`grpo-rag ingest --chunk-tokens 200`"
                )
    if window and n:
        over = sum(n_tokens + completion_tokens > window for n_tokens in prompt_lengths)
        if over:
            warnings.append(
                f"warning: {over} of {n} {what} ({over / n:.0%}) plus {completion_tokens} completion tokens exceed "
                f"the model's window of {window} tokens and will be truncated; set prompt.max_tokens "
                f"to at most {window - completion_tokens}"
            )
    if "answer_in_gold" in after.column_names:
        judged = [x for x in after["answer_in_gold"] if x is not None]
        missing = sum(not x for x in judged)
        if missing:
            warnings.append(
                f"warning: in {missing} of {len(judged)} {what} ({missing / len(judged):.0%}) no answer occurs "
                "in a gold passage: exact match and `grounded` cannot credit a copied answer there "
                "(answers computed or reworded?)"
            )
    return warnings
