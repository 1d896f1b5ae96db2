"""Supervised LoRA fine-tuning (TRL `SFTTrainer` + peft) on gold completions, closed-book or with passages.

`grpo-rag compare` uses it for its fine-tuning arms: closed-book (no passages, so the model has to store
the facts in the adapter) and RAFT-style (BM25 passages with their distractors, reshuffled each epoch,
the target citing the gold passage). Prompts, targets, LoRA settings and the run folder (`adapter/`,
`metrics.jsonl`, `train_summary.json`) are the toolkit's own, shared with GRPO training.
"""

from __future__ import annotations

import json
import random
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from datasets import Dataset
from transformers import set_seed
from transformers.trainer_callback import ProgressCallback

from grpo_rag.config import RunConfig
from grpo_rag.data.compose import load_hops
from grpo_rag.data.io import write_atomic
from grpo_rag.pipeline.budget import fit_prompts
from grpo_rag.pipeline.prepare import (
    Context,
    PromptOptions,
    gold_completion,
    load_retriever,
    prepare_split,
    prompt_options,
    shuffled_passages,
)
from grpo_rag.prompts.templates import render_prefilled
from grpo_rag.prompts.tool_format import install_tool_template
from grpo_rag.rollout.search import SearchEnvironment, gold_rollout, search_options
from grpo_rag.training.callbacks import MetricsFile, SummaryLine, tensorboard_into
from grpo_rag.training.curves import draw_after_training
from grpo_rag.training.modeling import (
    check_source,
    load_model,
    load_tokenizer,
    score_completions_only_on_cpu,
    trainable_parameters,
    uses_chat,
)
from grpo_rag.training.parts import lora_config
from grpo_rag.training.run_dir import ADAPTER_DIR, METRICS_FILE, TENSORBOARD_DIR, save_adapter


@dataclass(frozen=True)
class SFTOptions:
    """One supervised run: how long, how fast, and which prompts (closed-book or retrieved passages)."""

    steps: int
    learning_rate: float
    batch_size: int
    context: Context = "retrieved"
    shuffle_passages: bool = True  # reshuffle the passage order of each example every epoch
    seed: int = 0


def sft_dataset(
    prepared: Dataset,
    epochs: int,
    *,
    shuffle: bool,
    options: PromptOptions,
    seed: int,
    tokenizer: Any = None,
) -> Dataset:
    """Prompt/completion pairs (TRL's format) for `epochs` passes over the prepared rows.

    The target is `prepare.gold_completion`: the first gold answer, citing the retrieved gold passages
    (none when retrieval missed them or the prompt is closed-book). With `options.prefill` the prompt is
    rendered as text up to the model's turn, and the target starts with the prefill (GRPO and evaluation
    put the prefill in the prompt; the model then continues the same text).
    """
    rng = random.Random(seed)
    prompts: list[Any] = []
    completions: list[Any] = []
    for _ in range(epochs):
        for row in prepared:
            if shuffle and row["passages"]:
                row = shuffled_passages(row, rng, options)
            target = gold_completion(row["answers"], row["passage_ids"], row["gold_ids"], row["answerable"])
            if (
                options.prefill
            ):  # the prompt ends where the model's turn starts; the target holds the prefill,
                # so the boundary falls on the template's newline (a prefill ending in punctuation would merge
                # with an answer that starts with punctuation, e.g. `>$`, and shift the boundary token)
                prompts.append(render_prefilled(row["prompt"], tokenizer, ""))
                completions.append(options.prefill + target.strip().removeprefix(options.prefill.strip()))
                continue
            prompts.append(row["prompt"])
            completions.append([{"role": "assistant", "content": target}] if options.chat else target)
    return Dataset.from_dict({"prompt": prompts, "completion": completions})


def search_sft_dataset(
    prepared: Dataset, env: SearchEnvironment, hops: dict[str, list[dict[str, Any]]], examples: int, seed: int
) -> tuple[Dataset, int]:
    """Conversational prompt/completion pairs of gold search rollouts (`rollout.search.gold_rollout`), with
    TRL's `tools` column, in as many shuffled epochs as `examples` needs; returns them and how many questions
    were left out (a hop's results lacked its answer). The rollouts themselves are deterministic (BM25).
    """
    from transformers.utils import get_json_schema

    tools = [get_json_schema(env.search)]
    rollouts = []
    for row in prepared:
        messages = gold_rollout(env, row, hops.get(row["id"]))
        if messages is not None:
            rollouts.append((row["prompt"], messages))
    rng = random.Random(seed)
    rows: list[tuple[Any, Any]] = []
    epochs = -(-examples // len(rollouts)) if rollouts else 0
    for _ in range(epochs):
        rows += rng.sample(rollouts, len(rollouts))
    data = {"prompt": [p for p, _ in rows], "completion": [c for _, c in rows], "tools": [tools] * len(rows)}
    return Dataset.from_dict(data), len(prepared) - len(rollouts)


def train_sft(
    cfg: RunConfig, settings: SFTOptions, out_dir: str | Path, *, overwrite: bool = False
) -> dict[str, Any]:
    """Train a LoRA adapter with SFTTrainer into `out_dir/adapter`; returns (and writes) a summary."""
    from trl import SFTConfig, SFTTrainer

    from grpo_rag.config.grpo_args import check_trackers
    from grpo_rag.errors import ConfigError

    out = Path(out_dir)
    if (out / ADAPTER_DIR).exists():
        if not overwrite:
            raise ConfigError(f"{out} holds a previous run; pass --overwrite to replace it")
        shutil.rmtree(out / ADAPTER_DIR)
    out.mkdir(parents=True, exist_ok=True)
    (out / METRICS_FILE).unlink(missing_ok=True)
    set_seed(settings.seed)  # before peft draws the LoRA initial weights
    check_source(cfg.model.name_or_path)
    first_tok = load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code)
    chat = uses_chat(first_tok, cfg.model.chat_template)
    options = prompt_options(cfg, chat, settings.context)
    prepared = prepare_split(
        cfg,
        cfg.data.train,
        options,
        out / "prepared-train",
        cfg.data.max_train_samples,
        split="sft",
    )
    examples = settings.steps * settings.batch_size
    epochs = max(1, -(-examples // max(1, len(prepared))))
    left_out = 0
    # multi-turn warm start: gold search conversations, only the model's turns trained
    if settings.context == "search":
        env = SearchEnvironment(load_retriever(cfg), search_options(cfg))
        dataset, left_out = search_sft_dataset(
            prepared, env, load_hops(cfg.data.train), examples, settings.seed
        )
        if not len(dataset):
            raise ConfigError(
                f"{cfg.data.train}: no gold search rollout finds its answers; nothing to train on"
            )
    else:
        prepared, _ = fit_prompts(prepared, first_tok, options, cfg.prompt.max_tokens, cfg.prompt.cut)
        dataset = sft_dataset(
            prepared,
            epochs,
            shuffle=settings.shuffle_passages,
            options=options,
            seed=settings.seed,
            tokenizer=first_tok,
        )
    model, tok = load_model(cfg.model)
    if settings.context == "search":
        install_tool_template(tok)
    check_trackers(cfg.training.get("report_to"))
    args = SFTConfig(
        output_dir=str(out),
        max_steps=settings.steps,
        per_device_train_batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, settings.steps // 20),
        logging_steps=max(1, settings.steps // 10),
        save_strategy="no",
        report_to=cfg.training.get("report_to", "none"),  # the same tracker choice as GRPO runs
        seed=settings.seed,
        max_length=None,  # never cut a long RAFT prompt: truncation would drop the target at its end
        assistant_only_loss=settings.context == "search",  # never train on the search results
        dataloader_num_workers=0,
        # the GRPO key drives both trainers; TRL's default (on) recomputes activations in the backward pass
        gradient_checkpointing=bool(cfg.training.get("gradient_checkpointing", True)),
        disable_tqdm=False,  # our `train` bar replaces its bar; without this, quiet logging turns it into dict prints
        **({} if torch.cuda.is_available() else {"use_cpu": True, "bf16": False}),
    )
    score_completions_only_on_cpu()  # the loss needs only the target's positions (on CPU ~Nx faster)
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tok, peft_config=lora_config(cfg)
    )
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(SummaryLine())  # the `train` stage bar and one line per logging step
    trainer.add_callback(MetricsFile(out / METRICS_FILE))
    tensorboard_into(trainer, out / TENSORBOARD_DIR)
    trainable, total = trainable_parameters(trainer.model)
    start = time.time()
    trainer.train()
    seconds = time.time() - start
    adapter = save_adapter(trainer, out)
    summary = {
        "output_dir": str(out),
        "adapter": str(adapter),
        "steps": trainer.state.global_step,
        "train_seconds": round(seconds, 2),
        "trainable_params": trainable,
        "total_params": total,
        "context": settings.context,
        "examples": len(dataset),
        "left_out_questions": left_out,
        "final_loss": next((h["loss"] for h in reversed(trainer.state.log_history) if "loss" in h), None),
    }
    write_atomic(out / "train_summary.json", json.dumps(summary, indent=2) + "\n")
    draw_after_training(out)  # plots/training_curves.png (the loss and learning rate)
    return summary
