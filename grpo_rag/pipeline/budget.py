"""The prompt budget: passages cut so that every prompt fits in `prompt.max_tokens` tokens.

Real passages are long (SQuAD-style paragraphs run to hundreds of tokens) and every prompt token costs
time in each GRPO step. When a prompt is over budget, its longest passages are cut first, down to a common
length (token-aware, at a token boundary), until it fits; the `passages` column is cut too, so rewards and
evaluation see what the model saw. Runs where the tokenizer is at hand (training and evaluation).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from datasets import Dataset

from grpo_rag.pipeline.checks import check_prompts
from grpo_rag.pipeline.prepare import PromptOptions, apply_prefill
from grpo_rag.progress import stage


def prompt_tokens(prompt: Any, tokenizer: Any) -> int:
    """Length of a prompt in tokens: plain text as tokenized, chat messages as the template renders them."""
    if isinstance(prompt, str):
        return len(tokenizer(prompt)["input_ids"])
    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def _cap(lengths: Sequence[int], excess: int) -> int:
    """The largest per-passage length c with sum(max(0, len - c)) >= excess (cut the longest first)."""
    c = max(lengths, default=0)
    while c > 0 and sum(max(0, n - c) for n in lengths) < excess:
        c -= max(1, (c // 16))
    return max(c, 0)


def fit_prompts(
    prepared: Dataset, tokenizer: Any, options: PromptOptions, max_tokens: int | None
) -> tuple[Dataset, int]:
    """Cut passages so every prompt is at most `max_tokens` tokens; returns (rows, prompts that were cut).

    Adds a `prompt_cut` column (True where passages were cut). A prompt that cannot fit even with no passage
    text left keeps empty passages and counts as cut.
    """
    fitted, cut, _ = _fit(prepared, tokenizer, options, max_tokens)
    return fitted, cut


def _fit(
    prepared: Dataset, tokenizer: Any, options: PromptOptions, max_tokens: int | None
) -> tuple[Dataset, int, list[int | None]]:
    """`fit_prompts`, plus each final prompt's token length where it was measured (None elsewhere), so that
    the window check need not tokenize those prompts again."""
    lengths: list[int | None] = [None] * len(prepared)
    if not max_tokens or "passages" not in prepared.column_names:
        return prepared, 0, lengths
    prompts, passages_col = list(prepared["prompt"]), list(prepared["passages"])
    was_cut = [False] * len(prompts)
    for i, row in enumerate(stage("prepare", total=len(prompts), unit="prompt", iterable=prepared)):
        if row["passages"]:
            lengths[i] = prompt_tokens(row["prompt"], tokenizer)
        excess = lengths[i] - max_tokens if lengths[i] is not None else 0
        if excess <= 0:
            continue
        ids = [tokenizer(p, add_special_tokens=False)["input_ids"] for p in row["passages"]]
        while True:
            cap = _cap([len(x) for x in ids], excess)
            texts = [
                tokenizer.decode(x[:cap]) if len(x) > cap else p
                for x, p in zip(ids, row["passages"], strict=True)
            ]
            prompt = options.render(row["question"], texts, row["passage_titles"])
            over = prompt_tokens(prompt, tokenizer) - max_tokens
            if over <= 0 or cap == 0:
                break
            excess += over  # tokenization at the cut can differ by a few tokens: cut a little more
        prompts[i], passages_col[i], was_cut[i] = prompt, texts, True
        lengths[i] = over + max_tokens  # the length of the prompt kept, measured in the last pass
    out = prepared.remove_columns(
        [c for c in ("prompt", "passages", "prompt_cut") if c in prepared.column_names]
    )
    out = out.add_column("prompt", prompts).add_column("passages", passages_col)
    return out.add_column("prompt_cut", was_cut), sum(was_cut), lengths


def finish_prompts(
    prepared: Dataset,
    tokenizer: Any,
    options: PromptOptions,
    max_tokens: int | None,
    what: str = "prompts",
    *,
    window: int | None = None,
    completion_tokens: int = 0,
) -> tuple[Dataset, int]:
    """The last prompt steps training and evaluation share: fit the budget (saying how many were cut), the
    data checks (`checks.check_prompts`, printed as warnings), then the prefill. Returns (rows, prompts cut)."""
    fitted, cut, known = _fit(prepared, tokenizer, options, max_tokens)
    if cut:
        print(f"prompt.max_tokens={max_tokens}: passages cut in {cut} of {len(fitted)} {what}")
    # Chat prompts need the template to be measured; a multi-turn run installs its tool template later.
    measurable = len(fitted) > 0 and (isinstance(fitted[0]["prompt"], str) or bool(tokenizer.chat_template))
    lengths = (
        [
            n if n is not None else prompt_tokens(p, tokenizer)
            for n, p in zip(known, fitted["prompt"], strict=True)
        ]
        if window and measurable
        else []
    )
    window = window if measurable else None
    for line in check_prompts(prepared, fitted, tokenizer, window, completion_tokens, lengths, what):
        print(line, file=sys.stderr)
    return apply_prefill(fitted, tokenizer, options.prefill), cut
