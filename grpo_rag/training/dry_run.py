"""`grpo-rag train --dry-run`: build everything a run needs, train nothing, and say what was skipped.

This lets a GPU recipe be checked on a machine that cannot run it: the config, TRL's `GRPOConfig`, peft's
`LoraConfig`, the rewards, the data with retrieval and prompts are all built; the tokenizer and model too
when they are on this machine (a local folder or the Hugging Face cache); vLLM and CUDA are only looked for.
Nothing is written: the run folder is not created and the prepared data is not cached.
"""

from __future__ import annotations

import importlib.metadata
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch

from grpo_rag.config import RunConfig
from grpo_rag.pipeline.prepare import prepare_split
from grpo_rag.training.modeling import check_source, load_model, load_tokenizer, uses_chat
from grpo_rag.training.parts import build_parts


@dataclass(frozen=True)
class Check:
    """One thing the dry run built (`ok`) or could not build here (`skipped`), with why."""

    what: str
    status: Literal["ok", "skipped"]
    detail: str


def model_is_available(name_or_path: str) -> bool:
    """True for a local model folder, or a hub id whose config.json is in the local Hugging Face cache."""
    check_source(name_or_path)  # a path that is not a model folder is an error, not a skip
    if Path(name_or_path).is_dir():
        return True
    from huggingface_hub import try_to_load_from_cache

    return isinstance(try_to_load_from_cache(name_or_path, "config.json"), str)


def _uses_chat(cfg: RunConfig) -> bool:
    """Whether prompts are chat messages: from the tokenizer when it is here, else from model.chat_template."""
    if not model_is_available(cfg.model.name_or_path):
        return cfg.model.chat_template == "always"
    return uses_chat(
        load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code), cfg.model.chat_template
    )


def _model_checks(cfg: RunConfig, lora: Any) -> tuple[list[Check], bool]:
    """Load tokenizer + model and attach the LoRA adapter when available; (checks, chat prompts?)."""
    name = cfg.model.name_or_path
    if not model_is_available(name):
        chat = cfg.model.chat_template == "always"
        return [
            Check(
                "model",
                "skipped",
                f"{name!r} is neither a local folder nor in the local Hugging Face cache (a dry run downloads "
                "nothing); download it on the training machine first. Prompts below are "
                f"previewed as {'chat messages' if chat else 'plain text'} (model.chat_template="
                f"{cfg.model.chat_template})",
            )
        ], chat
    from peft import get_peft_model

    model, tok = load_model(cfg.model)
    chat = uses_chat(tok, cfg.model.chat_template)
    total = sum(p.numel() for p in model.parameters())
    peft_model = get_peft_model(model, lora)
    trainable = sum(p.numel() for p in peft_model.parameters() if p.requires_grad)
    return [
        Check(
            "tokenizer",
            "ok",
            f"{type(tok).__name__}, vocabulary {len(tok)}, "
            f"{'chat template' if chat else 'plain-text prompts'}",
        ),
        Check(
            "model",
            "ok",
            f"{type(model).__name__}, {total / 1e6:.2f}M parameters, {model.dtype}; LoRA trains "
            f"{trainable:,} ({trainable / max(total, 1):.2%})",
        ),
    ], chat


def _engine_checks(args: Any) -> list[Check]:
    """What the GPU side needs (CUDA, vLLM), reported as skipped where this machine lacks it."""
    checks = []
    if not torch.cuda.is_available():
        wanted = [name for name in ("bf16", "fp16", "use_vllm") if getattr(args, name, False)]
        checks.append(
            Check(
                "device",
                "skipped",
                "no CUDA device here"
                + (
                    f"; {', '.join(wanted)} take effect on the GPU machine"
                    if wanted
                    else "; training would run on the CPU"
                ),
            )
        )
    else:
        checks.append(Check("device", "ok", f"{torch.cuda.device_count()} x {torch.cuda.get_device_name(0)}"))
    if args.use_vllm:
        try:
            version = importlib.metadata.version("vllm")
        except importlib.metadata.PackageNotFoundError:
            checks.append(
                Check(
                    "vllm",
                    "skipped",
                    f"use_vllm is set (mode {args.vllm_mode}) but vllm is not "
                    "installed; `pip install vllm` on the GPU machine",
                )
            )
        else:
            checks.append(Check("vllm", "ok", f"vllm {version}, mode {args.vllm_mode}"))
    return checks


def dry_run(cfg: RunConfig) -> list[Check]:
    """Build the run's parts without training; raises the same errors a real run would for bad inputs."""
    chat = _uses_chat(cfg)
    parts = build_parts(cfg, chat)  # what `train` builds, from the same function; rewards fail first
    funcs, weights, args, lora = parts.reward_funcs, parts.reward_weights, parts.args, parts.lora
    checks = [
        Check("rewards", "ok", ", ".join(f"{f.__name__} x{w:g}" for f, w in zip(funcs, weights, strict=True)))
    ]
    prompts_per_step = (
        args.per_device_train_batch_size * args.gradient_accumulation_steps // args.num_generations
    )
    checks.append(
        Check(
            "GRPOConfig",
            "ok",
            f"{args.per_device_train_batch_size} completions per device per step "
            f"({args.num_generations} per prompt, {prompts_per_step} prompts), max_completion_length "
            f"{args.max_completion_length}, lr {args.learning_rate:g}, max_steps {args.max_steps}, "
            f"bf16={args.bf16}, use_vllm={args.use_vllm}",
        )
    )
    checks.append(
        Check("LoraConfig", "ok", f"r={lora.r}, alpha={lora.lora_alpha}, targets {lora.target_modules}")
    )
    checks += _model_checks(cfg, lora)[0]
    index = cfg.retrieval.index_dir
    source = (
        "saved index " + index + " (memory-mapped)"
        if index and Path(index).exists()
        else "index built in memory" + (f" ({index} does not exist yet: `grpo-rag index`)" if index else "")
    )
    data = prepare_split(
        cfg,
        cfg.data.train,
        parts.options,
        None,
        cfg.data.max_train_samples,
        split="grpo",
    )
    if parts.multi_turn:
        k = cfg.rollout.k or cfg.retrieval.k
        what = (
            f"multi-turn search prompts (up to {cfg.rollout.max_calls} search calls, top-{k} from {source})"
        )
    else:
        what = f"top-{cfg.retrieval.k} passages each from {source}"
    checks.append(Check("data", "ok", f"{len(data)} training questions from {cfg.data.train}, {what}"))
    return checks + _engine_checks(args)


def report(checks: list[Check]) -> str:
    """The dry run's printout: one line per check, then a summary line."""
    lines = [f"{c.status:<8} {c.what}: {c.detail}" for c in checks]
    skipped = [c.what for c in checks if c.status == "skipped"]
    lines.append(
        f"dry run: nothing trained or written; {len(checks) - len(skipped)} built"
        + (f", skipped here: {', '.join(skipped)}" if skipped else "")
    )
    return "\n".join(lines)
