"""Greedy generation for evaluation: batched single-shot completions, and multi-turn rollouts with `search`.

The multi-turn loop mirrors the one TRL runs in training (parse a turn, call the tool, append its result),
so a multi-turn model is evaluated the way it was trained.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from datasets import Dataset

from grpo_rag.progress import stage
from grpo_rag.rollout.search import SearchEnvironment


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
    for start in stage(desc, total=None, unit="batch", iterable=range(0, len(texts), batch_size)):
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
        for start in stage(
            f"eval (search turn {turn + 1})",
            total=None,
            unit="batch",
            iterable=range(0, len(active), batch_size),
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
