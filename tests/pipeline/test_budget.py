"""`prompt.max_tokens`: passages are cut (longest first, at token boundaries) until every prompt fits;
`prompt.cut` picks which part of a passage is kept."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from grpo_rag.errors import ConfigError
from grpo_rag.pipeline.budget import fit_prompts, focus_start, prompt_tokens, question_terms
from grpo_rag.pipeline.prepare import prepare_split, prompt_options
from grpo_rag.sections import from_dict
from grpo_rag.training.modeling import load_tokenizer


def _prompts(tiny_run: dict[str, Any]) -> tuple[Any, Any, Any, list[int], int]:
    """The tiny run's held-out rows, tokenizer, prompt options, prompt lengths, and their median as a budget."""
    cfg = from_dict(copy.deepcopy(tiny_run))
    tok = load_tokenizer(cfg.model.name_or_path)
    options = prompt_options(cfg, chat=False)
    prepared = prepare_split(cfg, cfg.data.eval, options, None)
    lengths = [prompt_tokens(p, tok) for p in prepared["prompt"]]
    return prepared, tok, options, lengths, sorted(lengths)[len(lengths) // 2]


def test_every_prompt_fits_and_cuts_are_counted(tiny_run: dict[str, Any]) -> None:
    prepared, tok, options, lengths, budget = _prompts(tiny_run)  # about half the prompts must be cut
    fitted, cut = fit_prompts(prepared, tok, options, budget, cut="head")
    new_lengths = [prompt_tokens(p, tok) for p in fitted["prompt"]]
    assert all(n <= budget for n in new_lengths)
    assert cut == sum(fitted["prompt_cut"]) == sum(n > budget for n in lengths) > 0
    for before, after, was_cut in zip(prepared, fitted, fitted["prompt_cut"], strict=True):
        if was_cut:  # the passages the rewards see are the cut ones, each a prefix of the original
            assert after["passages"] != before["passages"]
            assert all(
                b.startswith(a.strip()[:10])
                for a, b in zip(after["passages"], before["passages"], strict=True)
            )
        else:
            assert after["prompt"] == before["prompt"] and after["passages"] == before["passages"]
    same, none_cut = fit_prompts(prepared, tok, options, 10_000)
    assert none_cut == 0 and same["prompt"] == prepared["prompt"]
    assert fit_prompts(prepared, tok, options, None) == (prepared, 0)


def words(text: str, split: dict[str, int] | None = None) -> list[tuple[int, int]]:
    """Char offsets of `text` tokenized one token per word, or into `split[word]` pieces of equal length."""
    offsets, at = [], 0
    for word in text.split(" "):
        pieces = (split or {}).get(word, 1)
        size = len(word) // pieces
        for j in range(pieces):
            end = at + len(word) if j == pieces - 1 else at + (j + 1) * size
            offsets.append((at + j * size, end))
        at += len(word) + 1
    return offsets


def test_focus_keeps_the_window_with_most_question_words_centred_on_them() -> None:
    text = "filler " * 20 + "the treaty of paris was signed in 1763 " + "filler " * 20
    offsets = words(text.strip())
    terms = question_terms("When was the Treaty of Paris signed?")
    assert terms == {"treaty", "paris", "signed"}  # stopwords and punctuation go
    start = focus_start(text.strip(), offsets, 12, terms)
    kept = text.strip().split(" ")[start : start + 12]
    assert {"treaty", "paris", "signed", "1763"} <= set(kept)  # the answer after the words is kept too
    assert kept.index("treaty") >= 2 and len(kept) - kept.index("signed") >= 3  # context on both sides


def test_focus_counts_distinct_words_not_repeats_and_keeps_the_head_without_any() -> None:
    text = "paris paris paris paris x x x x x x x x treaty of paris signed here"
    terms = question_terms("When was the Treaty of Paris signed?")
    start = focus_start(text, words(text), 5, terms)
    assert {"treaty", "paris", "signed"} <= set(text.split(" ")[start : start + 5])
    assert focus_start("a b c d e f g h", words("a b c d e f g h"), 3, terms) == 0  # no question word
    assert focus_start(text, words(text), 100, terms) == 0  # nothing to cut
    assert focus_start(text, words(text), 5, frozenset()) == 0
    assert focus_start(text, words(text), 0, terms) == 0  # the budget leaves no passage text


def test_focus_windows_start_at_a_word() -> None:
    text = "alpha beta epsilon treaty gamma delta eta"
    offsets = words(text, split={"epsilon": 3})  # tokens: alpha beta eps ilo n treaty gamma delta eta
    assert focus_start(text, offsets, 3, frozenset({"treaty"})) == 5  # not 4 ("n treaty gamma"), mid-word


def test_focus_cut_fits_the_budget_and_keeps_a_piece_of_each_passage(tiny_run: dict[str, Any]) -> None:
    prepared, tok, options, _, budget = _prompts(tiny_run)
    fitted, cut = fit_prompts(prepared, tok, options, budget, cut="focus")
    assert cut > 0 and all(prompt_tokens(p, tok) <= budget for p in fitted["prompt"])
    for before, after in zip(prepared, fitted, strict=True):
        for a, b in zip(after["passages"], before["passages"], strict=True):
            assert a.strip() in b  # one contiguous piece of the passage, not a rewrite


def test_an_unknown_cut_is_a_config_error(tiny_run: dict[str, Any]) -> None:
    raw = copy.deepcopy(tiny_run)
    raw.setdefault("prompt", {})["cut"] = "middle"
    with pytest.raises(ConfigError, match="prompt.cut"):
        from_dict(raw)


class _SlowTokenizer:
    """A tokenizer without offsets (as a slow, pure-Python one): asking for them raises, as transformers does."""

    is_fast = False

    def __init__(self, inner: Any) -> None:
        self.inner = inner

    def __call__(self, *args: Any, return_offsets_mapping: bool = False, **kwargs: Any) -> Any:
        if return_offsets_mapping:
            raise NotImplementedError("return_offset_mapping is not available when using Python tokenizers")
        return self.inner(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def test_a_slow_tokenizer_falls_back_to_the_head_cut(tiny_run: dict[str, Any]) -> None:
    prepared, tok, options, _, budget = _prompts(tiny_run)
    slow, slow_cut = fit_prompts(prepared, _SlowTokenizer(tok), options, budget, cut="focus")
    head, head_cut = fit_prompts(prepared, tok, options, budget, cut="head")
    assert slow_cut == head_cut > 0 and slow["passages"] == head["passages"]
