"""The built-in rewards, in TRL's signature `fn(prompts, completions, **columns) -> list[float | None]`.

Each scores through `grpo_rag.rewards.scoring`, the module evaluation uses too, so a reward and a metric
never disagree about what "correct" means. `None` means "does not apply to this sample" (TRL ignores it).
`BUILTINS` maps each registered name to its function; `registry` seeds the name registry from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from grpo_rag.errors import RewardError
from grpo_rag.rewards import scoring

RewardFn = Callable[..., list[float | None]]

# ---------------------------------------------------------------------------------------------------------
# Column access shared by the built-ins


def _column(columns: Mapping[str, Any], name: str, n: int, default: Any = ..., *, reward: str) -> list[Any]:
    """One dataset column as a list of length n; a missing column uses `default` or raises RewardError."""
    values = columns.get(name)
    if n == 0:
        return []
    if values is None:
        if default is ...:
            raise RewardError(f"reward '{reward}' needs the dataset column '{name}', which is missing")
        return [default] * n
    if len(values) != n:
        raise RewardError(f"reward '{reward}': column '{name}' has {len(values)} items for {n} completions")
    return list(values)


def _parse_all(completions: Sequence[Any]) -> list[scoring.Parsed]:
    """Parse every completion (string or conversational)."""
    return [scoring.parse_completion(scoring.completion_text(c)) for c in completions]


# ---------------------------------------------------------------------------------------------------------
# Built-in rewards


def _answer_reward(
    completions: Sequence[Any],
    columns: Mapping[str, Any],
    reward: str,
    score: Callable[[str | None, Sequence[str]], float],
    lenient: bool = False,
) -> list[float | None]:
    """`score(answer, golds)` per completion; an unanswerable question scores 1.0 iff the completion abstained.

    `lenient`: untagged answers count too (`scoring.lenient_answer`), partial credit for a model that has not
    learned the tags yet.
    """
    n = len(completions)
    answers = _column(columns, "answers", n, reward=reward)
    answerable = _column(columns, "answerable", n, True, reward=reward)
    parse = scoring.lenient_parse if lenient else scoring.parse_completion
    parsed = [parse(scoring.completion_text(c)) for c in completions]
    return [
        score(p.answer, golds) if ok else float(p.abstained)
        for p, golds, ok in zip(parsed, answers, answerable, strict=True)
    ]


def exact_match(
    prompts: Sequence[Any], completions: Sequence[Any], lenient: bool = False, **columns: Any
) -> list[float | None]:
    """1.0 when the answer matches a gold answer after normalisation (unanswerable: 1.0 iff abstained).

    `lenient: true` also reads untagged answers (the first line of the completion).
    """
    return _answer_reward(completions, columns, "exact_match", scoring.exact_match, lenient)


def f1(
    prompts: Sequence[Any], completions: Sequence[Any], lenient: bool = False, **columns: Any
) -> list[float | None]:
    """Token F1 between the answer and the best gold answer (unanswerable: 1.0 iff abstained).

    `lenient: true` also reads untagged answers (the first line of the completion).
    """
    return _answer_reward(completions, columns, "f1", scoring.f1, lenient)


def char_similarity(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """Character similarity to the best gold answer: credit for near-miss copies (unanswerable: abstained)."""
    return _answer_reward(completions, columns, "char_similarity", scoring.char_similarity)


def _format_score(parsed: scoring.Parsed, num_passages: int) -> float:
    """Format credit of one completion given how many passages its prompt had.

    1.0 well-formed with valid citations (none needed when abstaining or closed-book); 0.5 well-formed
    but citations missing or out of range; 0.25 an answer tag with a broken layout; 0.0 no answer tag.
    """
    if parsed.answer is None:
        return 0.0
    if not parsed.well_formed:
        return 0.25
    if not scoring.citations_in_range(parsed, num_passages):
        return 0.5
    needs_citation = num_passages > 0 and not parsed.abstained
    return 0.5 if needs_citation and not parsed.citations else 1.0


def format_reward(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """1.0 for `<answer>..</answer> [n]` with in-range citations; 0.5 bad citations, 0.25 bad layout, 0 no tag.

    In multi-turn rollouts a malformed or unreadable search call (`search_errors` > 0) also scores 0.
    """
    n = len(completions)
    passages = _column(columns, "passages", n, [], reward="format")
    # Multi-turn rollouts: a search call that could not be parsed or was malformed is a format error.
    errors = _column(columns, "search_errors", n, 0, reward="format")
    return [
        0.0 if bad else _format_score(p, len(ps))
        for p, ps, bad in zip(_parse_all(completions), passages, errors, strict=True)
    ]


def grounded(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    max_answer_fraction: float = 0.5,
    max_answer_tokens: int = 32,
    **columns: Any,
) -> list[float | None]:
    """1.0 when a cited passage contains the (short) answer; None for unanswerable, closed-book or yes/no samples.

    A yes/no (or maybe) question's answer is a judgement that no passage holds as text: scoring it 0 would
    push the policy away from answering such questions at all, so it is left unscored (None).
    """
    return _grounded(_parse_all(completions), columns, "grounded", max_answer_fraction, max_answer_tokens)


def _grounded(
    parsed: Sequence[scoring.Parsed],
    columns: Mapping[str, Any],
    reward: str,
    max_answer_fraction: float,
    max_answer_tokens: int,
) -> list[float | None]:
    """`grounded` of already-parsed completions (shared with `grounded_f1`, which needs the parse too)."""
    if not 0 < max_answer_fraction <= 1:
        raise RewardError(f"{reward}: max_answer_fraction must be in (0, 1], got {max_answer_fraction}")
    if max_answer_tokens < 1:
        raise RewardError(f"{reward}: max_answer_tokens must be >= 1, got {max_answer_tokens}")
    n = len(parsed)
    passages = _column(columns, "passages", n, [], reward=reward)
    answerable = _column(columns, "answerable", n, True, reward=reward)
    answers = _column(columns, "answers", n, [], reward=reward)
    out: list[float | None] = []
    for p, ps, ok, golds in zip(parsed, passages, answerable, answers, strict=True):
        if not scoring.grounded_applies(golds, ps, ok):
            out.append(None)
            continue
        out.append(
            scoring.grounded(
                p, ps, max_answer_fraction=max_answer_fraction, max_answer_tokens=max_answer_tokens
            )
        )
    return out


def grounded_f1(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    max_answer_fraction: float = 0.5,
    max_answer_tokens: int = 32,
    **columns: Any,
) -> list[float | None]:
    """Token F1 of the answer when a cited passage contains it, else 0; None where `grounded` does not apply.

    `grounded` alone pays for citing any span of a passage, right or wrong, which a policy can earn for
    sure by copying a short span; here the citation earns only as much as the answer is right.
    """
    parsed = _parse_all(completions)
    support = _grounded(parsed, columns, "grounded_f1", max_answer_fraction, max_answer_tokens)
    answers = _column(columns, "answers", len(completions), [], reward="grounded_f1")
    return [
        None if s is None else s * scoring.f1(p.answer, golds)
        for s, p, golds in zip(support, parsed, answers, strict=True)
    ]


_CITATION_MODES = ("f1", "precision", "recall")


def citation(
    prompts: Sequence[Any], completions: Sequence[Any], mode: str = "f1", **columns: Any
) -> list[float | None]:
    """Citation f1/precision/recall against gold passage ids (option `mode`); None when gold ids are unknown."""
    if mode not in _CITATION_MODES:
        raise RewardError(f"citation: mode must be one of {', '.join(_CITATION_MODES)}, got {mode!r}")
    n = len(completions)
    passage_ids = _column(columns, "passage_ids", n, [], reward="citation")
    gold_ids = _column(columns, "gold_ids", n, [], reward="citation")
    out: list[float | None] = []
    for parsed, pids, gids in zip(_parse_all(completions), passage_ids, gold_ids, strict=True):
        scores = scoring.citation_scores(parsed, pids, gids)
        if scores is None:
            out.append(None)
        elif mode == "precision":
            out.append(scores[0])
        elif mode == "recall":
            out.append(scores[1])
        else:
            p, r = scores
            out.append(2 * p * r / (p + r) if p + r else 0.0)
    return out


def abstain(
    prompts: Sequence[Any], completions: Sequence[Any], penalty: float = 0.5, **columns: Any
) -> list[float | None]:
    """Unanswerable: 1.0 for abstaining, else 0. Answerable: -penalty for abstaining, else 0."""
    if penalty < 0:
        raise RewardError(f"abstain: penalty must be >= 0, got {penalty}")
    n = len(completions)
    answerable = _column(columns, "answerable", n, True, reward="abstain")
    out: list[float | None] = []
    for parsed, ok in zip(_parse_all(completions), answerable, strict=True):
        if ok:
            out.append(-float(penalty) if parsed.abstained else 0.0)
        else:
            out.append(1.0 if parsed.abstained else 0.0)
    return out


_LENGTH_UNITS = ("tokens", "words")


def length(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    budget: int = 64,
    unit: str = "tokens",
    **columns: Any,
) -> list[float | None]:
    """0 up to `budget` tokens or words (option `unit`), then linearly down to -1 at twice the budget."""
    if unit not in _LENGTH_UNITS:
        raise RewardError(f"length: unit must be one of {', '.join(_LENGTH_UNITS)}, got {unit!r}")
    if budget < 1:
        raise RewardError(f"length: budget must be >= 1, got {budget}")
    n = len(completions)
    # Tokens come from TRL's `completion_ids`; without them (e.g. in evaluation) words stand in for tokens.
    ids = columns.get("completion_ids") if unit == "tokens" else None
    if ids is not None and len(ids) != n:
        raise RewardError(f"length: got {len(ids)} completion_ids for {n} completions")
    out: list[float | None] = []
    for i, completion in enumerate(completions):
        size = len(ids[i]) if ids is not None else len(scoring.completion_text(completion).split())
        out.append(-min(1.0, max(0, size - budget) / budget))
    return out


def search_budget(
    prompts: Sequence[Any], completions: Sequence[Any], budget: int = 2, penalty: float = 0.5, **columns: Any
) -> list[float | None]:
    """Multi-turn: -penalty for each search call beyond `budget` (0 within it); None for rows without a count."""
    if isinstance(budget, bool) or not isinstance(budget, int) or budget < 0:
        raise RewardError(f"search_budget: budget must be an integer >= 0, got {budget!r}")
    if isinstance(penalty, bool) or not isinstance(penalty, (int, float)) or not 0 <= penalty < float("inf"):
        raise RewardError(f"search_budget: penalty must be a finite number >= 0, got {penalty!r}")
    n = len(completions)
    if columns.get("search_calls") is None and n:
        raise RewardError(
            "search_budget: no search_calls column; it scores multi-turn rollouts (rollout.mode: multi_turn)"
        )
    calls = _column(columns, "search_calls", n, reward="search_budget")
    out: list[float | None] = []
    for c in calls:
        if c is None:
            out.append(None)
        elif isinstance(c, bool) or not isinstance(c, int) or c < 0:
            raise RewardError(f"search_budget: search_calls must be counts >= 0, got {c!r}")
        else:
            out.append(-float(penalty) * max(0, c - budget))
    return out


#: The built-in rewards by registered name, in the order `grpo-rag rewards` lists them.
BUILTINS: dict[str, RewardFn] = {
    "exact_match": exact_match,
    "f1": f1,
    "char_similarity": char_similarity,
    "format": format_reward,
    "grounded": grounded,
    "grounded_f1": grounded_f1,
    "citation": citation,
    "abstain": abstain,
    "length": length,
    "search_budget": search_budget,
}
