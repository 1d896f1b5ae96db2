"""`prompt.prefill`: prompts end inside the model's turn, and completions are scored as prefill + completion."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.errors import ConfigError
from grpo_rag.prompts.templates import render_prefilled
from grpo_rag.rewards.binding import build_reward_funcs
from grpo_rag.sections import from_dict


class ChatTok:
    """A tokenizer stand-in with a chat template; `adds_bos` says whether encoding text prepends BOS."""

    bos_token, bos_token_id = "<s>", 1

    def __init__(self, adds_bos: bool):
        self.adds_bos = adds_bos

    def apply_chat_template(self, messages: list[dict[str, str]], **kw: Any) -> str:
        assert kw == {"tokenize": False, "add_generation_prompt": True}
        return "<s>" + "".join(f"[{m['role']}] {m['content']}\n" for m in messages) + "[assistant] "

    def __call__(self, text: str) -> dict[str, list[int]]:
        return {"input_ids": ([1] if self.adds_bos else []) + [5]}


def test_render_prefilled_text_and_chat() -> None:
    assert render_prefilled("Q?\nAnswer:", ChatTok(False), " <answer>") == "Q?\nAnswer: <answer>"
    messages = [{"role": "user", "content": "Q?"}]
    assert render_prefilled(messages, ChatTok(False), "<answer>") == "<s>[user] Q?\n[assistant] <answer>"
    # a tokenizer that adds BOS itself: the template's BOS is dropped so it is not doubled
    assert render_prefilled(messages, ChatTok(True), "<answer>") == "[user] Q?\n[assistant] <answer>"


def test_rewards_score_the_prefill_and_the_completion() -> None:
    from grpo_rag.config import RewardConfig

    (em,), _ = build_reward_funcs([RewardConfig("exact_match")], None, "<answer>")
    assert em(prompts=["p"], completions=["480 kW</answer>"], answers=[["480 kW"]]) == [1.0]
    (plain,), _ = build_reward_funcs([RewardConfig("exact_match")])
    assert plain(prompts=["p"], completions=["480 kW</answer>"], answers=[["480 kW"]]) == [0.0]


def test_evaluation_with_prefill(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.evaluation.evaluate import evaluate

    raw = copy.deepcopy(tiny_run)
    raw["prompt"] = {"prefill": " <answer>"}
    metrics = evaluate(from_dict(raw), None, tmp_path / "eval")
    assert metrics["n"] == 5
    rows = [json.loads(line) for line in (tmp_path / "eval/predictions.jsonl").read_text().splitlines()]
    assert all(r["completion"].startswith(" <answer>") for r in rows)


def test_prefill_is_single_turn_only(tiny_run: dict[str, Any]) -> None:
    raw = copy.deepcopy(tiny_run)
    raw["prompt"] = {"prefill": "<answer>"}
    raw["rollout"] = {"mode": "multi_turn"}
    with pytest.raises(ConfigError, match="prompt.prefill: multi-turn rollouts"):
        from_dict(raw)
