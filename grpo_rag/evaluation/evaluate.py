"""Evaluate a base model or a trained adapter on held-out QA with greedy decoding.

Scores come from `scoring.score_completion`, the same code the rewards use, so "correct" means the same
thing in training and evaluation. Writes `metrics.json` (overall and per domain), `report.md` and
`predictions.jsonl`.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from datasets import Dataset

from grpo_rag.config import RunConfig
from grpo_rag.data.io import write_atomic, write_jsonl
from grpo_rag.evaluation.generate import generate, generate_with_search
from grpo_rag.pipeline.budget import finish_prompts
from grpo_rag.pipeline.checks import model_window
from grpo_rag.pipeline.prepare import Context, load_retriever, prepare_split, prompt_options
from grpo_rag.prompts.tool_format import install_tool_template
from grpo_rag.rewards.scoring import (
    completion_text,
    is_verdict,
    lenient_parse,
    normalize_answer,
    score_completion,
)
from grpo_rag.rollout.search import SearchEnvironment, environment_factory, search_options
from grpo_rag.training.modeling import load_for_inference, uses_chat

#: Per-question scores averaged into the report, in report order.
METRICS = (
    "exact_match",
    "f1",
    "lenient_exact_match",
    "lenient_f1",
    "grounded",
    "citation_precision",
    "citation_recall",
    "recall_at_k",
    "abstained",
    "well_formed",
    "answer_tokens",
)


#: Extra per-question metrics of multi-turn evaluation: search calls made, malformed queries, and the
#: share of the gold passages returned by any of the calls (recall across calls).
SEARCH_METRICS = ("search_calls", "search_errors", "gold_recall")

#: Activates one named adapter for the rows that use it (e.g. peft's `set_adapter`), as a context manager.
AdapterSwitch = Callable[[str], AbstractContextManager[Any]]


def score_rows(prepared: Dataset, completions: Sequence[str]) -> list[dict[str, float]]:
    """Scores for each prepared row and its completion, plus retrieval recall@k of the gold passages."""
    rows = []
    for row, completion in zip(prepared, completions, strict=True):
        s = score_completion(
            completion,
            answers=row["answers"],
            passages=row["passages"],
            passage_ids=row["passage_ids"],
            gold_ids=row["gold_ids"],
            answerable=row["answerable"],
        )
        gold = set(row["gold_ids"])
        s["recall_at_k"] = float(bool(gold & set(row["passage_ids"]))) if gold else float("nan")
        rows.append({k: float("nan") if v is None else float(v) for k, v in s.items()})
    return rows


def _mean(values: list[float]) -> float | None:
    vals = [v for v in values if v == v]  # drop NaN (e.g. recall where gold ids are unknown)
    return round(sum(vals) / len(vals), 4) if vals else None


def aggregate(
    scores: list[dict[str, float]], domains: Sequence[str], names: Sequence[str] = METRICS
) -> dict[str, Any]:
    """Mean of every metric (`names`) overall and per domain, with counts."""

    def summary(idx: list[int]) -> dict[str, Any]:
        return {"n": len(idx), **{m: _mean([scores[i][m] for i in idx]) for m in names}}

    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(domains):
        by_domain[d].append(i)
    return {
        **summary(list(range(len(scores)))),
        "per_domain": {d: summary(idx) for d, idx in sorted(by_domain.items())},
    }


def label_questions(
    answers: Sequence[Sequence[str]], completions: Sequence[Any], domains: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """Per domain with yes/no-style questions: what one constant answer would score, and how constant the model is.

    `majority_exact_match` is the exact match of always answering the most common gold label of these
    questions; `top_prediction_share` is the share of the model's answers that are its most common one. A
    model that answers "yes" to everything scores the majority figure and a share near 1.
    """
    by_domain: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for golds, completion, domain in zip(answers, completions, domains, strict=True):
        if golds and is_verdict(golds):
            pred = normalize_answer(lenient_parse(completion_text(completion)).answer or "")
            by_domain[domain].append((normalize_answer(golds[0]), pred))
    out: dict[str, dict[str, Any]] = {}
    for domain, pairs in sorted(by_domain.items()):
        gold_label, gold_count = Counter(g for g, _ in pairs).most_common(1)[0]
        top, top_count = Counter(p for _, p in pairs).most_common(1)[0]
        out[domain] = {
            "n": len(pairs),
            "majority_label": gold_label,
            "majority_exact_match": round(gold_count / len(pairs), 4),
            "top_prediction": top,
            "top_prediction_share": round(top_count / len(pairs), 4),
        }
    return out


def _with_searched_passages(prepared: Dataset, envs: Sequence[SearchEnvironment]) -> Dataset:
    """The rows with `passages` / `passage_ids` replaced by what each rollout's searches returned."""
    out = prepared
    for name in ("passages", "passage_ids", "passage_titles"):
        out = out.remove_columns(name).add_column(name, [list(getattr(e, name)) for e in envs])
    return out


def report_markdown(metrics: dict[str, Any], title: str) -> str:
    """A markdown table: one row overall, one per domain."""
    cols = ("n", *[m for m in (*METRICS, *SEARCH_METRICS) if m in metrics])
    lines = [f"# {title}", "", "| domain | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]

    def cell(v: Any) -> str:
        return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))

    for name, m in [("**all**", metrics), *metrics["per_domain"].items()]:
        lines.append(f"| {name} | " + " | ".join(cell(m[c]) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def eval_prompts(
    cfg: RunConfig,
    tok: Any,
    *,
    data: str | None = None,
    context: Context = "retrieved",
    limit: int | None = None,
) -> tuple[Dataset, Context]:
    """The held-out rows with their prompts, as evaluation builds them, and the context they use.

    With `rollout.mode: multi_turn`, "retrieved" becomes "search": the prompt holds the question and the
    model calls `search` (the tokenizer gets the tool template). `limit` defaults to `data.max_eval_samples`.
    """
    if cfg.rollout.mode == "multi_turn" and context == "retrieved":
        install_tool_template(tok)
        context = "search"
    chat = context == "search" or uses_chat(tok, cfg.model.chat_template)
    options = prompt_options(cfg, chat, context)
    prepared = prepare_split(
        cfg, data or cfg.data.eval, options, None, limit if limit is not None else cfg.data.max_eval_samples
    )
    window = model_window(cfg.model.name_or_path, cfg.model.trust_remote_code)
    fitted = finish_prompts(
        prepared,
        tok,
        options,
        cfg.prompt.max_tokens,
        "held-out prompts",
        cut_mode=cfg.prompt.cut,
        window=window,
        completion_tokens=cfg.eval.max_new_tokens,
    )[0]
    return fitted, context


def evaluate(
    cfg: RunConfig,
    checkpoint: str | Path | None,
    out_dir: str | Path,
    *,
    data: str | None = None,
    context: Context = "retrieved",
    limit: int | None = None,
) -> dict[str, Any]:
    """Greedy-evaluate `checkpoint` (adapter, run dir or full model; None = the config's base model)."""
    model, tok = load_for_inference(cfg.model, checkpoint, merge=cfg.eval.merge_adapter)
    prepared, context = eval_prompts(cfg, tok, data=data, context=context, limit=limit)
    label = str(checkpoint) if checkpoint else cfg.model.name_or_path
    return evaluate_model(cfg, model, tok, prepared, out_dir, label=label, context=context, data=data)


def evaluate_model(
    cfg: RunConfig,
    model: Any,
    tok: Any,
    prepared: Dataset,
    out_dir: str | Path,
    *,
    label: str,
    context: Context = "retrieved",
    data: str | None = None,
    adapters: Sequence[str] | None = None,
    switch: AdapterSwitch | None = None,
    title: str | None = None,
) -> dict[str, Any]:
    """Generate for prepared rows, score them, write the evaluation folder; the one path every evaluation takes.

    `adapters` names, per row, the adapter `switch(name)` activates while that row generates (rows are grouped
    so each adapter is set once); None = the model as it is. Multi-turn when `context` is "search".
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    multi_turn = context == "search"
    prefill = "" if multi_turn else cfg.prompt.prefill or ""  # prompts already end with it (`eval_prompts`)
    chat = multi_turn or (uses_chat(tok, cfg.model.chat_template) and not prefill)
    groups = list(adapters) if adapters is not None else [label] * len(prepared)
    envs: list[SearchEnvironment] = []
    if multi_turn:
        make_env = environment_factory(load_retriever(cfg), search_options(cfg))
        envs = [make_env() for _ in range(len(prepared))]
    completions: list[Any] = [None] * len(prepared)
    start = time.time()
    for name in sorted(set(groups)):
        rows = [i for i, g in enumerate(groups) if g == name]
        with switch(name) if switch is not None else contextlib.nullcontext():
            if multi_turn:
                texts: list[Any] = generate_with_search(
                    model,
                    tok,
                    prepared.select(rows),
                    [envs[i] for i in rows],
                    cfg.rollout.max_calls,
                    cfg.eval.max_new_tokens,
                    cfg.eval.batch_size,
                )
            else:
                texts = generate(
                    model,
                    tok,
                    [prepared[i]["prompt"] for i in rows],
                    cfg.eval.max_new_tokens,
                    cfg.eval.batch_size,
                    chat=chat,
                    desc=f"eval ({context})" if adapters is None else f"eval ({name})",
                )
        for i, text in zip(rows, texts, strict=True):
            completions[i] = prefill + text if prefill else text  # scored as the whole model turn
    seconds = time.time() - start
    if multi_turn:
        prepared = _with_searched_passages(prepared, envs)
    scores = score_rows(prepared, completions)
    names = METRICS
    if multi_turn:
        names = (*METRICS, *SEARCH_METRICS)
        for s, env, row in zip(scores, envs, prepared, strict=True):
            gold = set(row["gold_ids"])
            s["search_calls"] = float(env.calls)
            s["search_errors"] = float(env.errors)
            s["gold_recall"] = len(gold & set(env.passage_ids)) / len(gold) if gold else float("nan")
    metrics = aggregate(scores, prepared["domain"], names)
    labels = label_questions(prepared["answers"], completions, prepared["domain"])
    for domain, lab in labels.items():
        if lab["n"] >= 10 and lab["top_prediction_share"] >= 0.9:
            print(
                f"note: {domain}: {lab['top_prediction_share']:.0%} of the {lab['n']} yes/no-style answers are "
                f"{lab['top_prediction']!r}; always answering {lab['majority_label']!r} scores "
                f"EM {lab['majority_exact_match']:.3f} on them"
            )
    metrics.update(
        {
            "label_questions": labels,
            "context": context,
            "checkpoint": label,
            "data": data or cfg.data.eval,
            "k": cfg.retrieval.k,
            "truncated_prompts": sum(prepared["prompt_cut"]) if "prompt_cut" in prepared.column_names else 0,
            "rollout": "multi_turn" if multi_turn else "single",
            "adapters": {a: groups.count(a) for a in sorted(set(groups))} if adapters is not None else None,
            "seconds": round(seconds, 2),
            "seconds_per_question": round(seconds / max(1, len(prepared)), 4),
        }
    )
    title = title or f"Evaluation of {label} ({context}, {metrics['n']} questions)"
    extra = [{"adapter": a} for a in groups] if adapters is not None else None
    write_evaluation(out, prepared, completions, scores, metrics, title, extra=extra)
    return metrics


def write_evaluation(
    out: Path,
    prepared: Dataset,
    completions: Sequence[str],
    scores: list[dict[str, float]],
    metrics: dict[str, Any],
    title: str,
    extra: Sequence[dict[str, Any]] | None = None,
) -> None:
    """Write `predictions.jsonl` (with per-row `extra` fields, e.g. the adapter used), `metrics.json`, `report.md`."""
    extras = extra if extra is not None else [{}] * len(prepared)
    write_jsonl(
        out / "predictions.jsonl",
        (
            {
                "id": row["id"],
                "domain": row["domain"],
                "question": row["question"],
                "answers": row["answers"],
                "passage_ids": row["passage_ids"],
                "completion": completion,
                **x,
                **s,
            }
            for row, completion, s, x in zip(prepared, completions, scores, extras, strict=True)
        ),
    )
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    write_atomic(out / "report.md", report_markdown(metrics, title))
