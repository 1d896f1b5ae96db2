"""Prompt construction and the answer format: `<answer>ANSWER</answer>` followed by citations like `[2]`.

This module owns the format's constants (tags, citation pattern, abstention text); `scoring.py` parses
completions with them, so prompts, rewards and evaluation cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

ANSWER_OPEN = "<answer>"
ANSWER_CLOSE = "</answer>"

#: The answer a model gives when the passages cannot answer the question.
ABSTAIN_ANSWER = "unanswerable"

#: Largest passage number a citation can carry; longer digit runs are not read as citations.
MAX_CITATION = 999_999

#: One citation group: `[2]` or `[1, 3]` (ASCII digits). Group 1 holds the numbers.
CITATION_RE = re.compile(r"\[\s*([0-9]{1,6}(?:\s*,\s*[0-9]{1,6})*)\s*\]")

#: Told to the model when passages are given. Kept short: small models pay for every prompt token.
INSTRUCTIONS = (
    f"Answer from the numbered passages as {ANSWER_OPEN}short answer{ANSWER_CLOSE} followed by the numbers "
    f"of the passages you used, e.g. [2]. If the passages do not say, write {ANSWER_OPEN}{ABSTAIN_ANSWER}"
    f"{ANSWER_CLOSE}."
)

#: The closed-book variant (no passages, so nothing to cite).
CLOSED_BOOK_INSTRUCTIONS = (
    f"Answer as {ANSWER_OPEN}short answer{ANSWER_CLOSE}. If you do not know, write "
    f"{ANSWER_OPEN}{ABSTAIN_ANSWER}{ANSWER_CLOSE}."
)

#: Told to the model in multi-turn rollouts: it searches first, then answers citing the numbered results.
SEARCH_INSTRUCTIONS = (
    f"Search for passages with the search tool, one query at a time, then answer as {ANSWER_OPEN}short answer"
    f"{ANSWER_CLOSE} followed by the numbers of the passages you used, e.g. [2]."
)

_TAG_RE = re.compile(r"</?answer>", re.IGNORECASE)


def _one_line(text: str) -> str:
    """Collapse all whitespace runs (newlines included) so that each passage stays on its own line."""
    return " ".join(text.split())


def format_passages(
    passages: Sequence[str], titles: Sequence[str] | None = None, numbers: Sequence[int] | None = None
) -> str:
    """Render passages as lines `[n] title: text` numbered from 1, or with the given `numbers` (search results
    keep the number a passage got when first retrieved); no `title: ` when the title is empty."""
    if titles is not None and len(titles) != len(passages):
        raise ValueError(f"got {len(titles)} titles for {len(passages)} passages")
    if numbers is not None and len(numbers) != len(passages):
        raise ValueError(f"got {len(numbers)} numbers for {len(passages)} passages")
    lines = []
    for i, text in enumerate(passages):
        n = numbers[i] if numbers is not None else i + 1
        title = _one_line(titles[i] or "") if titles is not None else ""
        prefix = f"{title}: " if title else ""
        lines.append(f"[{n}] {prefix}{_one_line(text)}")
    return "\n".join(lines)


def build_prompt(
    question: str,
    passages: Sequence[str],
    titles: Sequence[str] | None = None,
    *,
    chat: bool = False,
    instructions: str | None = None,
    closed_book_instructions: str | None = None,
) -> str | list[dict[str, str]]:
    """Build the prompt for one question: plain text, or TRL conversational messages when `chat` is True.

    With no passages the closed-book instructions are used and no passage block is emitted. The
    instruction texts default to `INSTRUCTIONS` / `CLOSED_BOOK_INSTRUCTIONS` (config: `prompt:`).
    """
    if passages:
        instructions = INSTRUCTIONS if instructions is None else instructions
    else:
        instructions = (
            CLOSED_BOOK_INSTRUCTIONS if closed_book_instructions is None else closed_book_instructions
        )
    context = f"{format_passages(passages, titles)}\n\n" if passages else ""
    question_line = f"Question: {_one_line(question)}"
    if chat:
        return [
            {"role": "system", "content": instructions},
            {"role": "user", "content": f"{context}{question_line}"},
        ]
    return f"{instructions}\n\n{context}{question_line}\nAnswer:"


def render_prefilled(prompt: str | list[dict[str, str]], tokenizer: Any, prefill: str) -> str:
    """The prompt as text that ends inside the model's turn, with `prefill` already written there.

    Chat messages are rendered with the tokenizer's template (generation prompt added). A leading BOS in
    the rendered text is dropped when the tokenizer adds one itself, so it is not doubled.
    """
    if isinstance(prompt, str):
        return prompt + prefill
    text = tokenizer.apply_chat_template(prompt, tokenize=False, add_generation_prompt=True)
    bos = getattr(tokenizer, "bos_token", None)
    if bos and text.startswith(bos):
        ids = tokenizer("x")["input_ids"]
        if ids and ids[0] == tokenizer.bos_token_id:
            text = text[len(bos) :]
    return text + prefill


def build_search_prompt(question: str) -> list[dict[str, str]]:
    """The multi-turn prompt (always conversational; plain models render it with `tool_format`'s template)."""
    return [
        {"role": "system", "content": SEARCH_INSTRUCTIONS},
        {"role": "user", "content": f"Question: {_one_line(question)}"},
    ]


def format_target(answer: str, citations: Sequence[int] = ()) -> str:
    """Gold completion for supervised warm-up, e.g. `" <answer>480 kW</answer> [2]"`.

    Raises ValueError for an answer that could not round-trip through `scoring.parse_completion`
    (it contains answer tags or citation markers) or for citation numbers outside 1..MAX_CITATION.
    """
    if _TAG_RE.search(answer) or CITATION_RE.search(answer):
        raise ValueError(f"answer must not contain answer tags or citation markers: {answer!r}")
    bad = [
        n for n in citations if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_CITATION
    ]
    if bad:
        raise ValueError(f"citations must be passage numbers in 1..{MAX_CITATION}, got {bad}")
    marks = "".join(f"[{n}]" for n in citations)
    return f" {ANSWER_OPEN}{answer}{ANSWER_CLOSE}" + (f" {marks}" if marks else "")
