"""Multi-turn search rollouts: a `search(query)` tool backed by the BM25 retriever, one environment per rollout.

Training hands `environment_factory` to TRL's GRPOTrainer, whose tool loop parses each model turn, calls
`SearchEnvironment.search`, appends the numbered results and lets the model continue; the result tokens are
masked out of the loss by TRL (its `tool_mask`). Each environment remembers every passage it returned, and
`rollout_columns` turns that into the `passages` / `passage_ids` columns the rewards already read, so
`grounded`, `citation` and `format` score multi-turn answers unchanged. Evaluation runs the same environment
in `run_search_loop` (greedy), so a search means the same thing in training and evaluation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from grpo_rag.prompts.templates import format_passages, format_target
from grpo_rag.prompts.tool_format import SEARCH_CLOSE, SEARCH_OPEN

if TYPE_CHECKING:
    from grpo_rag.config import RunConfig
    from grpo_rag.retrieval.bm25 import BM25Retriever

#: Characters that cannot occur in a well-formed query; their presence means the call was mis-parsed.
_BAD_QUERY_MARKS = ("<", ">")


@dataclass(frozen=True)
class SearchOptions:
    """What one `search` call may do (from the config's `rollout` and `retrieval` sections)."""

    k: int = 3  # passages per call
    max_calls: int = 2  # calls per rollout; later calls return an error message and retrieve nothing
    domains: tuple[str, ...] | None = None  # restrict every search to these domains (retrieval.domains)
    own_domain: bool = False  # restrict each search to the question's own domain


class SearchEnvironment:
    """One rollout's search state: the passages returned so far (numbered in order of first retrieval).

    TRL exposes every public method except `reset` as a tool, so helpers here are private.
    """

    def __init__(self, retriever: BM25Retriever, settings: SearchOptions):
        self._retriever = retriever
        self._settings = settings
        self.reset()

    def reset(self, **row: Any) -> None:
        """Start a new rollout for a dataset row (its `domain` is used when `own_domain` is set)."""
        self.passages: list[str] = []
        self.passage_ids: list[str] = []
        self.passage_titles: list[str] = []
        self.calls = 0  # every call the model made, malformed or over budget included
        self.errors = 0  # malformed queries
        self._domain = row.get("domain")

    def search(self, query: str) -> str:
        """Search the knowledge base (BM25) and return the best passages, numbered for citation.

        Args:
            query: Words to look for, e.g. an entity name and the attribute that is asked about.
        """
        self.calls += 1
        text = query.strip() if isinstance(query, str) else ""
        if not text or any(mark in text for mark in _BAD_QUERY_MARKS):
            self.errors += 1
            raise ValueError(f"malformed search query {query!r}")
        if self.calls > self._settings.max_calls:
            raise ValueError(f"search budget of {self._settings.max_calls} calls used up")
        domains = self._domains()
        hits = self._retriever.retrieve([text], k=self._settings.k, domains=domains)[0]
        if not hits:
            return "no passages found"
        numbers = []
        for hit in hits:
            if hit.id not in self.passage_ids:
                self.passage_ids.append(hit.id)
                self.passages.append(hit.text)
                self.passage_titles.append(hit.title)
            numbers.append(self.passage_ids.index(hit.id) + 1)
        return format_passages([h.text for h in hits], [h.title for h in hits], numbers)

    def _domains(self) -> list[str] | None:
        allowed = list(self._settings.domains) if self._settings.domains else None
        if self._settings.own_domain and self._domain:
            if allowed is not None and self._domain not in allowed:
                return allowed
            return [self._domain]
        return allowed


def search_options(cfg: RunConfig) -> SearchOptions:
    """Search settings from the config: `rollout.k` (default `retrieval.k`), budget, domain restrictions."""
    r = cfg.rollout
    return SearchOptions(
        k=r.k or cfg.retrieval.k,
        max_calls=r.max_calls,
        own_domain=r.domain_filter,
        domains=tuple(cfg.retrieval.domains) if cfg.retrieval.domains else None,
    )


def environment_factory(retriever: BM25Retriever, settings: SearchOptions) -> Callable[[], SearchEnvironment]:
    """The zero-argument factory TRL's `environment_factory` expects."""

    def make() -> SearchEnvironment:
        return SearchEnvironment(retriever, settings)

    return make


def search_turn(env: SearchEnvironment, query: str) -> list[dict[str, Any]]:
    """One gold search turn as chat messages: the model's `search` call, then the tool's real result."""
    call = {"type": "function", "function": {"name": "search", "arguments": {"query": query}}}
    return [
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "name": "search", "content": env.search(query)},
    ]


def gold_citations(env: SearchEnvironment, gold_ids: Sequence[str]) -> list[int]:
    """The numbers the rollout's searches gave the gold passages (what a gold answer cites)."""
    gold = set(gold_ids)
    return [n for n, pid in enumerate(env.passage_ids, start=1) if pid in gold]


def gold_rollout(
    env: SearchEnvironment, row: Mapping[str, Any], hops: Sequence[Mapping[str, Any]] | None = None
) -> list[dict[str, Any]] | None:
    """The messages of a gold multi-turn rollout, for a supervised warm start: one search per hop (the hop's
    question; without hops, the question itself) with its real results, then the answer citing the gold
    passages found. None when a hop's results do not contain that hop's answer: a target that answers from
    what the search did not return would teach the model to guess.
    """
    steps = list(hops) if hops else [{"question": row["question"], "answers": row["answers"]}]
    env.reset(**row)
    messages: list[dict[str, Any]] = []
    for hop in steps[: env._settings.max_calls]:
        turn = search_turn(env, hop["question"])
        messages += turn
        if not any(_contains(turn[-1]["content"], a) for a in hop["answers"]):
            return None
    cites = gold_citations(env, row["gold_ids"])
    found = [a for a in row["answers"] if any(_contains(p, a) for p in env.passages)]
    if not found:
        return None
    answer = found[0]
    messages.append({"role": "assistant", "content": format_target(answer, cites).strip()})
    return messages


def _contains(text: str, answer: str) -> bool:
    return answer.strip().lower() in text.lower()


def malformed_calls(completion: Any) -> int:
    """Search tags left in a completion's text: calls the parser could not read (TRL keeps them as text)."""
    messages = completion if isinstance(completion, list) else [completion]
    count = 0
    for m in messages:
        text = m.get("content") if isinstance(m, Mapping) else m
        if isinstance(text, str) and (m.get("role", "assistant") if isinstance(m, Mapping) else "") != "tool":
            count += text.count(SEARCH_OPEN) + text.count(SEARCH_CLOSE)
    return count


def rollout_columns(completions: Sequence[Any], columns: Mapping[str, Any]) -> dict[str, Any]:
    """Reward columns with the passages every rollout retrieved across its turns (unchanged without search).

    Adds `search_calls` and `search_errors` (malformed queries plus unreadable search tags) per completion,
    and logs their means through TRL's `log_metric` when it is given.
    """
    envs = columns.get("environments")
    if not envs or not all(isinstance(e, SearchEnvironment) for e in envs):
        return dict(columns)
    out = dict(columns)
    out["passages"] = [list(e.passages) for e in envs]
    out["passage_ids"] = [list(e.passage_ids) for e in envs]
    out["passage_titles"] = [list(e.passage_titles) for e in envs]
    out["search_calls"] = [e.calls for e in envs]
    out["search_errors"] = [e.errors + malformed_calls(c) for e, c in zip(envs, completions, strict=True)]
    log_metric = columns.get("log_metric")
    if callable(log_metric) and envs:
        log_metric("search/calls", sum(out["search_calls"]) / len(envs))
        log_metric("search/format_errors", sum(out["search_errors"]) / len(envs))
    return out
