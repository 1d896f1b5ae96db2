"""The one definition of a correct, well-formed and grounded answer, shared by rewards and evaluation.

Answers are compared after `normalize_answer` (SQuAD-style plus Unicode NFKC), completions are read
with `parse_completion`, and `score_completion` gives every per-example metric the evaluation reports.
"""

from __future__ import annotations

import difflib
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from grpo_rag.errors import RewardError
from grpo_rag.prompts.templates import ABSTAIN_ANSWER, ANSWER_CLOSE, ANSWER_OPEN, CITATION_RE

_ARTICLES = frozenset({"a", "an", "the"})
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_punct(ch: str) -> bool:
    """ASCII punctuation (as SQuAD) plus every Unicode punctuation character (smart quotes, dashes...)."""
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(s: str) -> str:
    """Lowercase, drop punctuation and the articles a/an/the, collapse whitespace, after Unicode NFKC.

    NFKC maps full-width and compatibility forms to their plain equivalents; it is applied again after
    case folding and punctuation removal, both of which can leave a string that NFKC would change.
    """
    s = unicodedata.normalize("NFKC", s)
    s = unicodedata.normalize("NFKC", s.casefold())
    s = "".join(ch for ch in s if not _is_punct(ch))
    s = " ".join(tok for tok in s.split() if tok not in _ARTICLES)
    return unicodedata.normalize("NFKC", s)


def answer_tokens(s: str | None) -> list[str]:
    """Tokens of the normalised answer (empty for None)."""
    return normalize_answer(s).split() if s else []


@lru_cache(maxsize=8192)
def _passage_tokens(text: str) -> tuple[str, ...]:
    """Normalised tokens of a passage, cached: the same passages are scored for every completion of a group."""
    return tuple(normalize_answer(text).split())


def exact_match(pred: str | None, golds: Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised gold answer; 0.0 for a missing prediction."""
    if pred is None:
        return 0.0
    norm = normalize_answer(pred)
    return float(any(norm == normalize_answer(gold) for gold in golds))


def _token_f1(pred: list[str], gold: list[str]) -> float:
    """SQuAD token F1; two empty token lists agree (1.0), one empty list against a non-empty one is 0.0."""
    if not pred or not gold:
        return float(pred == gold)
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def f1(pred: str | None, golds: Sequence[str]) -> float:
    """Token F1 of the normalised prediction, maximised over the gold answers; 0.0 for a missing prediction."""
    if pred is None:
        return 0.0
    tokens = answer_tokens(pred)
    return max((_token_f1(tokens, answer_tokens(gold)) for gold in golds), default=0.0)


def char_similarity(pred: str | None, golds: Sequence[str]) -> float:
    """Character similarity (difflib ratio) of the normalised prediction to the best gold; 0.0 if missing.

    Partial credit for a near-miss copy ("Thiosrys" for "Thiothpion", "240 MHz" for "2740 MHz"), where
    exact match and token F1 both give 0. Predictions far longer than a gold are bounded without matching.
    """
    if pred is None:
        return 0.0
    norm = normalize_answer(pred)
    best = 0.0
    for gold in golds:
        target = normalize_answer(gold)
        if not norm or not target:
            best = max(best, float(norm == target))
        elif len(norm) > 8 * len(target):  # 2 * matches / total <= 2 * len(target) / total: cheap and tiny
            best = max(best, 2 * len(target) / (len(norm) + len(target)))
        else:
            best = max(best, difflib.SequenceMatcher(None, norm, target, autojunk=False).ratio())
    return best


@dataclass(frozen=True)
class Parsed:
    """What a completion says: its answer (None without an answer tag), citations, and format flags."""

    answer: str | None
    citations: list[int] = field(default_factory=list)
    well_formed: bool = False
    abstained: bool = False


_OPEN_RE = re.compile(re.escape(ANSWER_OPEN), re.IGNORECASE)
_CLOSE_RE = re.compile(re.escape(ANSWER_CLOSE), re.IGNORECASE)
_ABSTAIN_NORM = normalize_answer(ABSTAIN_ANSWER)


def _citations(text: str) -> list[int]:
    """Citation numbers in order of first appearance, deduplicated."""
    seen: dict[int, None] = {}
    for match in CITATION_RE.finditer(text):
        for part in match.group(1).split(","):
            seen.setdefault(int(part), None)
    return list(seen)


def parse_completion(text: str) -> Parsed:
    """Read a completion `<answer>ANSWER</answer> [n]...`; never raises.

    Rules: tags are matched case-insensitively; the answer is the text between the first `<answer>` and
    the first `</answer>` after it (an unclosed tag takes the rest of the text, so a truncated generation
    still gets scored); `[n]` markers are stripped from the answer text; citations are read from the
    whole completion. `well_formed` requires exactly one opening and one closing tag, only whitespace
    before the answer, only citations and whitespace after it, and a non-empty answer.
    """
    opening = _OPEN_RE.search(text)
    if opening is None:
        return Parsed(answer=None, citations=_citations(text))
    closing = _CLOSE_RE.search(text, opening.end())
    body_end = closing.start() if closing else len(text)
    answer = CITATION_RE.sub("", text[opening.end() : body_end]).strip()
    tail = text[closing.end() :] if closing else ""
    well_formed = (
        closing is not None
        and bool(answer)
        and not text[: opening.start()].strip()
        and not CITATION_RE.sub("", tail).strip()
        and len(_OPEN_RE.findall(text)) == 1
        and len(_CLOSE_RE.findall(text)) == 1
    )
    abstained = normalize_answer(answer) == _ABSTAIN_NORM
    return Parsed(answer=answer, citations=_citations(text), well_formed=well_formed, abstained=abstained)


def completion_text(completion: Any) -> str:
    """Text of a completion given as a string or in TRL's conversational form (a list of messages).

    For messages, the contents of the assistant messages (or of all messages when none has a role) are
    joined; content given as a list of blocks contributes its text blocks.
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence) and all(isinstance(m, Mapping) for m in completion):
        roles = [m.get("role") for m in completion]
        chosen = (
            [m for m in completion if m.get("role") == "assistant"] if "assistant" in roles else completion
        )
        return "".join(_content_text(m.get("content")) for m in chosen)
    raise RewardError(
        f"a completion must be a string or a list of chat messages, got {type(completion).__name__}"
    )


def _content_text(content: Any) -> str:
    """Text of one message's content: a string, None, or a list of `{"type": "text", "text": ...}` blocks."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return "".join(
            block.get("text") or "" if isinstance(block, Mapping) else str(block) for block in content
        )
    return str(content)


#: Answers that are a judgement, not a span (PubMedQA's yes / no / maybe): no passage is expected to hold them.
LABEL_ANSWERS = frozenset({"yes", "no", "maybe", "true", "false"})


def is_verdict(answers: Sequence[str]) -> bool:
    """True when every gold answer is a label (yes, no, ...): `grounded` cannot check it against a passage."""
    return bool(answers) and all(normalize_answer(a) in LABEL_ANSWERS for a in answers)


def grounded_applies(answers: Sequence[str], passages: Sequence[str], answerable: bool) -> bool:
    """Whether `grounded` can judge a question: answerable, with passages shown, and a span (not a label) answer."""
    return bool(answerable) and bool(passages) and not is_verdict(answers)


def grounded(
    parsed: Parsed,
    passages: Sequence[str],
    *,
    max_answer_fraction: float = 0.5,
    max_answer_tokens: int = 32,
) -> float:
    """1.0 when the answer is supported by what it cites, else 0.0.

    Requires a non-empty, non-abstaining answer, at least one citation, every citation in
    1..len(passages), and one cited passage containing the normalised answer as a token sequence.
    Pasting passages is not grounding: the answer may have at most `max_answer_tokens` tokens and at
    most `max_answer_fraction` of the supporting passage's tokens (but always at least one).
    """
    tokens = answer_tokens(parsed.answer)
    if not tokens or parsed.abstained or not parsed.citations or len(tokens) > max_answer_tokens:
        return 0.0
    if any(not 1 <= n <= len(passages) for n in parsed.citations):
        return 0.0
    needle = " " + " ".join(tokens) + " "
    for n in parsed.citations:
        passage = _passage_tokens(passages[n - 1])
        limit = max(1, int(max_answer_fraction * len(passage)))
        if len(tokens) <= limit and needle in " " + " ".join(passage) + " ":
            return 1.0
    return 0.0


def citation_scores(
    parsed: Parsed, passage_ids: Sequence[str], gold_ids: Sequence[str]
) -> tuple[float, float] | None:
    """Citation (precision, recall) against the gold passage ids; None when the gold ids are unknown.

    Precision is over the distinct cited numbers (a number outside the retrieved list counts as wrong;
    no citations gives 0.0). Recall is over all gold ids, so a gold passage that retrieval missed
    lowers it.
    """
    gold = set(gold_ids)
    if not gold:
        return None
    if not parsed.citations:
        return 0.0, 0.0
    cited = [passage_ids[n - 1] if 1 <= n <= len(passage_ids) else None for n in parsed.citations]
    precision = sum(pid in gold for pid in cited) / len(cited)
    recall = len(gold.intersection(pid for pid in cited if pid is not None)) / len(gold)
    return precision, recall


def lenient_answer(text: str) -> str | None:
    """The answer of a completion read leniently: the tagged answer's first line when there is a tag, else the
    first non-empty line of the text; citation markers and stray closing tags removed. None for empty text.

    For models that answer in plain text (a prompted instruct model): strict scoring gives them nothing,
    so a fair baseline is measured this way too.
    """
    return _first_line(parse_completion(text), text)


def _first_line(parsed: Parsed, text: str) -> str | None:
    """`lenient_answer` of `text`, given its strict parse."""
    body = parsed.answer if parsed.answer is not None else text
    for line in body.splitlines():
        line = CITATION_RE.sub("", _CLOSE_RE.sub("", _OPEN_RE.sub("", line))).strip()
        if line:
            return line
    return None


def lenient_parse(text: str, parsed: Parsed | None = None) -> Parsed:
    """`parse_completion`, with the answer taken by `lenient_answer` (so untagged answers count).

    `parsed`: the strict parse of `text` when the caller has it already (it is not parsed again).
    """
    parsed = parsed if parsed is not None else parse_completion(text)
    answer = _first_line(parsed, text)
    abstained = answer is not None and normalize_answer(answer) == _ABSTAIN_NORM
    return Parsed(answer, parsed.citations, parsed.well_formed, abstained)


def answer_scores(parsed: Parsed, answers: Sequence[str], answerable: bool) -> tuple[float, float]:
    """(exact match, F1) of a parsed completion; for an unanswerable question both are 1.0 iff it abstained."""
    if not answerable:
        score = float(parsed.abstained)
        return score, score
    return exact_match(parsed.answer, answers), f1(parsed.answer, answers)


def score_completion(
    completion: Any,
    *,
    answers: Sequence[str],
    passages: Sequence[str],
    passage_ids: Sequence[str],
    gold_ids: Sequence[str],
    answerable: bool,
) -> dict[str, float | None]:
    """Every per-example metric of one completion; None marks a metric that does not apply.

    `grounded` is None for unanswerable questions, closed-book prompts (no passages) and yes/no questions;
    `citation_precision`/`citation_recall` are None when the gold ids are unknown (empty).
    """
    text = completion_text(completion)
    parsed = parse_completion(text)
    em, token_f1 = answer_scores(parsed, answers, answerable)
    lenient_em, lenient_f1 = answer_scores(lenient_parse(text, parsed), answers, answerable)
    support = grounded(parsed, passages) if grounded_applies(answers, passages, answerable) else None
    cites = citation_scores(parsed, passage_ids, gold_ids)
    return {
        "exact_match": em,
        "f1": token_f1,
        "lenient_exact_match": lenient_em,
        "lenient_f1": lenient_f1,
        "grounded": support,
        "citation_precision": cites[0] if cites is not None else None,
        "citation_recall": cites[1] if cites is not None else None,
        "abstained": float(parsed.abstained),
        "well_formed": float(parsed.well_formed),
        "answer_tokens": float(len(answer_tokens(parsed.answer))),
    }


def citations_in_range(parsed: Parsed, num_passages: int) -> bool:
    """True when every cited number names a passage of the prompt (1..num_passages)."""
    return all(1 <= n <= num_passages for n in parsed.citations)
