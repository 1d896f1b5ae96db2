"""Evaluate a base model or a trained adapter on held-out QA with greedy decoding.

Scores come from `scoring.score_completion`, the same code the rewards use, so "correct" means the same
thing in training and evaluation. Writes `metrics.json` (overall and per domain), `report.md` and
`predictions.jsonl`.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from tqdm.auto import tqdm

from grpo_rag.config import RunConfig
from grpo_rag.data import write_atomic, write_jsonl
from grpo_rag.modeling import load_for_inference, uses_chat
from grpo_rag.multiturn import SearchEnvironment, environment_factory, search_settings
from grpo_rag.prepare import Context, load_retriever, prepare_split, prompt_options
from grpo_rag.scoring import score_completion
from grpo_rag.tool_format import install_tool_template

#: Per-question scores averaged into the report, in report order.
METRICS = (
    "exact_match",
    "f1",
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


@torch.no_grad()
def generate(
    model: Any,
    tok: Any,
    prompts: Sequence[Any],
    max_new_tokens: int,
    batch_size: int,
    chat: bool = False,
    desc: str = "generating",
) -> list[str]:
    """Greedy completions for prompts (strings or chat messages), batched with left padding."""
    texts = [
        tok.apply_chat_template(p, tokenize=False, add_generation_prompt=True) if chat else p for p in prompts
    ]
    tok.padding_side = "left"
    device = next(model.parameters()).device
    out: list[str] = []
    for start in tqdm(range(0, len(texts), batch_size), desc=desc, unit="batch", leave=False):
        batch = texts[start : start + batch_size]
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=not chat).to(device)
        ids = model.generate(
            **enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id
        )
        out += tok.batch_decode(ids[:, enc["input_ids"].shape[1] :], skip_special_tokens=True)
    return out


@torch.no_grad()
def _greedy_ids(model: Any, tok: Any, texts: Sequence[str], max_new_tokens: int) -> list[list[int]]:
    """Greedy continuation ids of already-rendered chat texts, cut after the first EOS."""
    tok.padding_side = "left"
    enc = tok(list(texts), return_tensors="pt", padding=True, add_special_tokens=False).to(
        next(model.parameters()).device
    )
    ids = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tok.pad_token_id)
    out = []
    for row in ids[:, enc["input_ids"].shape[1] :].tolist():
        cut = row.index(tok.eos_token_id) + 1 if tok.eos_token_id in row else len(row)
        out.append([t for t in row[:cut] if t != tok.pad_token_id or t == tok.eos_token_id])
    return out


def generate_with_search(
    model: Any,
    tok: Any,
    prepared: Dataset,
    envs: Sequence[SearchEnvironment],
    max_calls: int,
    max_new_tokens: int,
    batch_size: int,
) -> list[list[dict[str, Any]]]:
    """Greedy multi-turn rollouts: the loop TRL runs in training (parse a turn, call search, append results).

    Returns each question's completion as messages (assistant turns and tool results). A turn with no
    readable search call ends the rollout; so does a call after `max_calls` turns of searching.
    """
    from trl.chat_template_utils import parse_response

    convs = [list(p) for p in prepared["prompt"]]
    completions: list[list[dict[str, Any]]] = [[] for _ in convs]
    for env, row in zip(envs, prepared, strict=True):
        env.reset(**row)
    active = list(range(len(convs)))
    for turn in range(max_calls + 1):
        next_active = []
        for start in tqdm(
            range(0, len(active), batch_size),
            desc=f"eval (search turn {turn + 1})",
            unit="batch",
            leave=False,
        ):
            batch = active[start : start + batch_size]
            texts = [
                tok.apply_chat_template(
                    convs[i], tools=[envs[i].search], tokenize=False, add_generation_prompt=True
                )
                for i in batch
            ]
            for i, text, ids in zip(
                batch, texts, _greedy_ids(model, tok, texts, max_new_tokens), strict=True
            ):
                message = parse_response(tok, ids, prefix=text, tools=[envs[i].search])
                convs[i].append(message)
                completions[i].append(message)
                calls = message.get("tool_calls") or []
                if not calls or turn == max_calls:
                    continue
                for call in calls:
                    fn = call.get("function", call)
                    try:
                        if fn.get("name") != "search":
                            raise ValueError(f"unknown tool {fn.get('name')!r}")
                        result: Any = envs[i].search(**(fn.get("arguments") or {}))
                    except Exception as exc:  # as in TRL's loop: the error becomes the tool's answer
                        result = {"error": str(exc)}
                    tool = {"role": "tool", "name": "search", "content": str(result)}
                    convs[i].append(tool)
                    completions[i].append(tool)
                next_active.append(i)
        active = next_active
        if not active:
            break
    return completions


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
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model, tok = load_for_inference(cfg.model, checkpoint)
    multi_turn = cfg.rollout.mode == "multi_turn" and context == "retrieved"
    if multi_turn:
        install_tool_template(tok)
        context = "search"
    chat = multi_turn or uses_chat(tok, cfg.model.chat_template)
    qa_path = data or cfg.data.eval
    prepared = prepare_split(
        cfg,
        qa_path,
        prompt_options(cfg, chat, context),
        None,
        limit if limit is not None else cfg.data.max_eval_samples,
    )
    start = time.time()
    if multi_turn:
        make_env = environment_factory(load_retriever(cfg), search_settings(cfg))
        envs = [make_env() for _ in range(len(prepared))]
        completions: list[Any] = generate_with_search(
            model, tok, prepared, envs, cfg.rollout.max_calls, cfg.eval.max_new_tokens, cfg.eval.batch_size
        )
        prepared = _with_searched_passages(prepared, envs)
    else:
        completions = generate(
            model,
            tok,
            prepared["prompt"],
            cfg.eval.max_new_tokens,
            cfg.eval.batch_size,
            chat=chat,
            desc=f"eval ({context})",
        )
    seconds = time.time() - start
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
    metrics.update(
        {
            "context": context,
            "checkpoint": str(checkpoint) if checkpoint else cfg.model.name_or_path,
            "data": qa_path,
            "k": cfg.retrieval.k,
            "rollout": cfg.rollout.mode if multi_turn else "single",
            "seconds": round(seconds, 2),
            "seconds_per_question": round(seconds / max(1, len(prepared)), 4),
        }
    )
    title = f"Evaluation of {metrics['checkpoint']} ({context}, {metrics['n']} questions)"
    write_evaluation(out, prepared, completions, scores, metrics, title)
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
