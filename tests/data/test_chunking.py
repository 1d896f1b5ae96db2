"""Token-aware chunking: budgets hold, boundaries are preferred in order, offsets are exact."""

from __future__ import annotations

import pytest

from grpo_rag.data.chunking import chunk_text, tokenizer_counter, word_counter


def test_chunks_are_exact_slices_within_budget() -> None:
    text = "Alpha beta gamma. Delta epsilon.\n\nZeta eta theta iota. Kappa lambda mu.\n\n" + "nu xi " * 40
    chunks = chunk_text(text, 12, 3)
    assert chunks and all(c.text == text[c.start : c.end] for c in chunks)
    assert all(n <= 12 for n in word_counter([c.text for c in chunks]))
    assert all(c.tokens == n for c, n in zip(chunks, word_counter([c.text for c in chunks]), strict=True))
    covered = {i for c in chunks for i in range(c.start, c.end)}
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())  # nothing dropped


def test_paragraph_boundaries_before_sentences() -> None:
    text = "One two three four.\n\nFive six seven eight."  # each paragraph is 5 words-and-marks
    chunks = chunk_text(text, 7)
    assert [c.text for c in chunks] == ["One two three four.", "Five six seven eight."]


def test_long_paragraph_cut_at_sentence_ends() -> None:
    text = "A b c d. E f g h. I j k l."  # 5 per sentence, +1 per join: two sentences fit 11
    chunks = chunk_text(text, 11)
    assert all(c.text.endswith(".") for c in chunks)
    assert [c.text for c in chunks] == ["A b c d. E f g h.", "I j k l."]


def test_overlap_repeats_trailing_sentences() -> None:
    text = " ".join(f"S{i} w w." for i in range(10))  # sentences of 4 tokens
    chunks = chunk_text(text, 12, overlap=5)
    assert len(chunks) > 2
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.start < prev.end  # the next chunk starts inside the previous one
        assert nxt.start > prev.start  # and still moves on


def test_one_megabyte_single_line_without_punctuation() -> None:
    text = " ".join(f"w{i}" for i in range(200_000))  # ~1.3 MB, no sentence or paragraph break
    assert len(text) > 1_000_000
    chunks = chunk_text(text, 256, 32)
    assert max(c.tokens for c in chunks) <= 256
    assert chunks[0].start == 0 and chunks[-1].end == len(text)


def test_word_longer_than_budget_stays_whole() -> None:
    chunks = chunk_text("short " + "x" * 50 + " tail", 1, 0, lambda ts: [max(1, len(t) // 10) for t in ts])
    assert "x" * 50 in [c.text for c in chunks]


def test_recount_fixes_an_underestimating_unit_count() -> None:
    # Units are counted alone, but this counter charges 2 extra per text: packed chunks run over and
    # must be cut again until each fits.
    def count(texts: list[str]) -> list[int]:
        return [len(t.split()) + 2 for t in texts]

    chunks = chunk_text(". ".join(["a b"] * 30) + ".", 10, 0, count)
    assert all(n <= 10 for n in count([c.text for c in chunks]))


def test_empty_and_bad_arguments() -> None:
    assert chunk_text(" \n\n ", 10) == []
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("a b", 4, 4)
    with pytest.raises(ValueError, match="max_tokens"):
        chunk_text("a b", 0)


def test_tokenizer_counter_on_the_tiny_tokenizer(tiny_run: dict) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tiny_run["model"]["name_or_path"])
    count = tokenizer_counter(tok)
    text = "\n\n".join("The pump station near Arden Hill holds 42 degrees. " * 5 for _ in range(6))
    chunks = chunk_text(text, 40, 8, count)
    assert len(chunks) > 1
    assert max(count([c.text for c in chunks])) <= 40
