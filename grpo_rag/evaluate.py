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
from grpo_rag.prepare import Context, prepare_split, prompt_options
from grpo_rag.scoring import score_completion

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


def aggregate(scores: list[dict[str, float]], domains: Sequence[str]) -> dict[str, Any]:
    """Mean of every metric overall and per domain, with counts."""

    def summary(idx: list[int]) -> dict[str, Any]:
        return {"n": len(idx), **{m: _mean([scores[i][m] for i in idx]) for m in METRICS}}

    by_domain: dict[str, list[int]] = defaultdict(list)
    for i, d in enumerate(domains):
        by_domain[d].append(i)
    return {
        **summary(list(range(len(scores)))),
        "per_domain": {d: summary(idx) for d, idx in sorted(by_domain.items())},
    }


def report_markdown(metrics: dict[str, Any], title: str) -> str:
    """A markdown table: one row overall, one per domain."""
    cols = ("n", *METRICS)
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
    chat = uses_chat(tok, cfg.model.chat_template)
    qa_path = data or cfg.data.eval
    prepared = prepare_split(
        cfg,
        qa_path,
        prompt_options(cfg, chat, context),
        None,
        limit if limit is not None else cfg.data.max_eval_samples,
    )
    start = time.time()
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
    metrics = aggregate(scores, prepared["domain"])
    metrics.update(
        {
            "context": context,
            "checkpoint": str(checkpoint) if checkpoint else cfg.model.name_or_path,
            "data": qa_path,
            "k": cfg.retrieval.k,
            "seconds": round(seconds, 2),
            "seconds_per_question": round(seconds / max(1, len(prepared)), 4),
        }
    )
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
                **s,
            }
            for row, completion, s in zip(prepared, completions, scores, strict=True)
        ),
    )
    write_atomic(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    title = f"Evaluation of {metrics['checkpoint']} ({context}, {metrics['n']} questions)"
    write_atomic(out / "report.md", report_markdown(metrics, title))
    return metrics
