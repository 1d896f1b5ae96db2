"""The parts of a GRPO run that come from the config alone, built in one place for `train` and `--dry-run`.

Rewards (with the multi-turn column hook), TRL's `GRPOConfig`, peft's `LoraConfig` and the prompt options are
built here before any model loads, so a dry run checks exactly what a real run would hand to TRL.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from grpo_rag.config import RunConfig
from grpo_rag.config.grpo_args import make_grpo_config
from grpo_rag.errors import ConfigError
from grpo_rag.pipeline.prepare import PromptOptions, prompt_options
from grpo_rag.rewards.binding import BoundReward, build_reward_funcs
from grpo_rag.rollout.search import rollout_columns


@dataclass(frozen=True)
class RunParts:
    """What `build_parts` makes: TRL's reward functions and weights, its GRPOConfig, peft's LoraConfig."""

    reward_funcs: list[BoundReward]
    reward_weights: list[float]
    args: Any  # trl.GRPOConfig
    lora: Any  # peft.LoraConfig
    options: PromptOptions  # how the training prompts are built (search prompts when multi-turn)
    multi_turn: bool  # rollout.mode multi_turn: TRL's tool loop calls `search` during generation


def lora_config(cfg: RunConfig) -> Any:
    """peft `LoraConfig` from the `lora` section (what every LoRA arm trains)."""
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora.r,
        lora_alpha=cfg.lora.alpha,
        lora_dropout=cfg.lora.dropout,
        target_modules=cfg.lora.target_modules,
        task_type="CAUSAL_LM",
    )


def build_parts(cfg: RunConfig, chat: bool, **arg_overrides: Any) -> RunParts:
    """Build the config-only parts of a run; `chat` = the tokenizer's chat template is used for prompts."""
    multi_turn = cfg.rollout.mode == "multi_turn"
    options = prompt_options(cfg, chat or multi_turn, "search" if multi_turn else "retrieved")
    # Multi-turn rewards score the passages every search call returned, not the (empty) prompt's.
    funcs, weights = build_reward_funcs(
        cfg.rewards, rollout_columns if multi_turn else None, options.prefill or ""
    )
    if multi_turn:  # TRL's tool loop: parse turns, call search, append results (masked out of the loss)
        arg_overrides["max_tool_calling_iterations"] = cfg.rollout.max_calls
    try:
        args = make_grpo_config(cfg.training, reward_weights=weights, **arg_overrides)
    except ConfigError as exc:
        raise ConfigError(f"{cfg.source}: {exc}") from None
    return RunParts(funcs, weights, args, lora_config(cfg), options, multi_turn)
