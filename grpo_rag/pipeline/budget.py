"""The prompt budget: passages cut so that every prompt fits in `prompt.max_tokens` tokens.

Real passages are long (SQuAD-style paragraphs run to hundreds of tokens) and every prompt token costs
time in each GRPO step. When a prompt is over budget, its longest passages are cut first, down to a common
length (token-aware, at a token boundary), until it fits; the `passages` column is cut too, so rewards and
evaluation see what the model saw. Runs where the tokenizer is at hand (training and evaluation).

Which part of a passage is kept (`prompt.cut`): "head" keeps its first tokens; "focus" keeps the window that
holds the most of the question's words, centred on them (a passage that shares no word with the question keeps
its head; so does every passage with a slow tokenizer, which gives no offsets). Answers sit anywhere in a real
paragraph: at 192 tokens "focus" keeps an answer in 47% of data/real's training span questions, "head" in 34%
(docs/experiments/2026-12-03-focused-cut.md).
"""

from __future__ import annotations

import bisect
import re
import sys
from collections import Counter
from collections.abc import Sequence
from typing import Any

from bm25s.stopwords import STOPWORDS_EN
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


_WORD = re.compile(r"[a-z0-9]+")
# bm25s' English stopwords plus the question words it keeps (passages seldom answer with them)
_STOP = frozenset(STOPWORDS_EN) | {
    "what",
    "when",
    "where",
    "which",
    "who",
    "whom",
    "whose",
    "why",
    "how",
    "did",
    "does",
    "do",
}


def question_terms(question: str) -> frozenset[str]:
    """The question's content words (lowercase, no English stopwords): what a focused cut looks for."""
    return frozenset(w for w in _WORD.findall(question.lower()) if w not in _STOP and len(w) > 1)


def focus_start(text: str, offsets: Sequence[tuple[int, int]], cap: int, terms: frozenset[str]) -> int:
    """First token of the `cap`-token window of `text` (tokens at char `offsets`) to keep: of the windows
    holding the most distinct `terms`, the middle one of the first run, so the words that match sit mid-window
    with context on both sides. Windows start at a word; 0 when no term occurs."""
    n = len(offsets)
    if n <= cap or cap <= 0 or not terms:  # nothing to cut, nothing left, or nothing to look for
        return 0
    starts = [o[0] for o in offsets]
    hits = [  # (token index, term) of every occurrence of a question term
        (max(0, bisect.bisect_right(starts, m.start()) - 1), m.group())
        for m in _WORD.finditer(text.lower())
        if m.group() in terms
    ]
    if not hits:
        return 0
    best, run, run_open = 0, [0], True  # run: word starts of the first run of best windows
    window: Counter[str] = Counter()
    lo = hi = 0  # hits[lo:hi] lie in the window [s, s + cap)
    for s in range(n - cap + 1):
        while hi < len(hits) and hits[hi][0] < s + cap:
            window[hits[hi][1]] += 1
            hi += 1
        while lo < hi and hits[lo][0] < s:
            window[hits[lo][1]] -= 1
            if not window[hits[lo][1]]:
                del window[hits[lo][1]]
            lo += 1
        if len(window) < best:
            run_open = False
        elif not _starts_word(text, offsets[s][0]) and s:
            continue
        elif len(window) > best:
            best, run, run_open = len(window), [s], True
        elif run_open:
            run.append(s)
    return run[len(run) // 2] if best else 0


def _starts_word(text: str, at: int) -> bool:
    """Does the token at char `at` begin a word (whitespace before it, or it is whitespace-led)?"""
    return at == 0 or text[at - 1 : at].isspace() or text[at : at + 1].isspace()


def fit_prompts(
    prepared: Dataset, tokenizer: Any, options: PromptOptions, max_tokens: int | None, cut: str = "focus"
) -> tuple[Dataset, int]:
    """Cut passages so every prompt is at most `max_tokens` tokens; returns (rows, prompts that were cut).

    Adds a `prompt_cut` column (True where passages were cut). A prompt that cannot fit even with no passage
    text left keeps empty passages and counts as cut. `cut` is `prompt.cut`, "focus" or "head" (module docstring).
    """
    fitted, n_cut, _ = _fit(prepared, tokenizer, options, max_tokens, cut)
    return fitted, n_cut


def _fit(
    prepared: Dataset, tokenizer: Any, options: PromptOptions, max_tokens: int | None, cut: str = "focus"
) -> tuple[Dataset, int, list[int | None]]:
    """`fit_prompts`, plus each final prompt's token length where it was measured (None elsewhere), so that
    the window check need not tokenize those prompts again."""
    lengths: list[int | None] = [None] * len(prepared)
    if not max_tokens or "passages" not in prepared.column_names:
        return prepared, 0, lengths
    prompts, passages_col = list(prepared["prompt"]), list(prepared["passages"])
    was_cut = [False] * len(prompts)
    focus = cut == "focus" and bool(getattr(tokenizer, "is_fast", False))  # offsets need a fast tokenizer
    for i, row in enumerate(stage("prepare", total=len(prompts), unit="prompt", iterable=prepared)):
        if row["passages"]:
            lengths[i] = prompt_tokens(row["prompt"], tokenizer)
        excess = lengths[i] - max_tokens if lengths[i] is not None else 0
        if excess <= 0:
            continue
        enc = [tokenizer(p, add_special_tokens=False, return_offsets_mapping=focus) for p in row["passages"]]
        ids = [e["input_ids"] for e in enc]
        terms = question_terms(row["question"]) if focus else frozenset()
        while True:
            cap = _cap([len(x) for x in ids], excess)
            texts = []
            for x, e, p in zip(ids, enc, row["passages"], strict=True):
                s = focus_start(p, e["offset_mapping"], cap, terms) if terms and len(x) > cap else 0
                texts.append(tokenizer.decode(x[s : s + cap]) if len(x) > cap else p)
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
    cut_mode: str = "focus",
    window: int | None = None,
    completion_tokens: int = 0,
) -> tuple[Dataset, int]:
    """The last prompt steps training and evaluation share: fit the budget (saying how many were cut), the
    data checks (`checks.check_prompts`, printed as warnings), then the prefill. Returns (rows, prompts cut)."""
    fitted, cut, known = _fit(prepared, tokenizer, options, max_tokens, cut_mode)
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
