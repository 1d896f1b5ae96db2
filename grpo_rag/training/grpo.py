"""GRPO + LoRA training from a RunConfig: thin glue that builds things and hands them to TRL.

TRL's `GRPOTrainer` owns the GRPO loss, group advantages, generation, checkpointing and logging; peft owns
LoRA injection. This module only prepares the dataset (retrieval once per question, cached), binds the
configured rewards, writes the run folder, and makes resuming and logging behave.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
import warnings
from pathlib import Path
from typing import Any

import torch
from transformers import set_seed
from transformers.trainer_callback import ProgressCallback

from grpo_rag.config import RunConfig, dump_config
from grpo_rag.data.io import write_atomic
from grpo_rag.errors import ConfigError, GrpoRagError
from grpo_rag.pipeline.augment import augment_dataset
from grpo_rag.pipeline.budget import finish_prompts
from grpo_rag.pipeline.checks import model_window, reachable
from grpo_rag.pipeline.prepare import load_retriever, prepare_split
from grpo_rag.prompts.tool_format import install_tool_template
from grpo_rag.rollout.search import environment_factory, search_options
from grpo_rag.training.callbacks import (
    CollapseWarning,
    MetricsFile,
    NonFiniteGuard,
    SummaryLine,
    TruncationWarning,
    tensorboard_into,
    trim_metrics,
)
from grpo_rag.training.curves import draw_after_training
from grpo_rag.training.modeling import (
    check_adapter,
    check_source,
    load_adapter,
    load_model,
    load_tokenizer,
    score_completions_only_on_cpu,
    trainable_parameters,
    uses_chat,
)
from grpo_rag.training.parts import build_parts
from grpo_rag.training.run_dir import (
    ADAPTER_DIR,
    METRICS_FILE,
    PREPARED_DIR,
    RESOLVED_CONFIG,
    STAGING_DIR,
    TENSORBOARD_DIR,
    last_checkpoint,
    save_adapter,
)
from grpo_rag.training.shared_prefill import prefill_once_per_prompt

# TRL's losses that divide by the generation batch's token count (`num_items_in_batch`), not by the rows present
_BATCH_NORMALIZED_LOSSES = ("dapo", "cispo", "vespo")


def drop_flat_rows(trainer: Any, inputs: dict[str, Any]) -> dict[str, Any]:
    """The rows of a training micro-batch whose advantage is not zero; the same gradient, less work.

    A group whose samples all scored alike (72% of them in the SmolLM2 recipe) has advantage 0 on every
    row: with `beta` 0 such a row adds exactly 0 to the loss, yet TRL runs its forward and backward. When
    the loss divides by the generation batch's token count (dapo, cispo, vespo), leaving those rows out
    changes no gradient. Kept as is otherwise (KL term, entropy mask, per-row losses, images, MoE aux loss).
    One row stays when none carries a signal, so the step still runs (its gradient is zero, as in TRL).
    """
    advantages = inputs.get("advantages")
    if (
        advantages is None
        or trainer.beta != 0.0
        or trainer.loss_type not in _BATCH_NORMALIZED_LOSSES
        or trainer.top_entropy_quantile < 1.0
        or trainer.aux_loss_enabled
        or "pixel_values" in inputs
    ):
        return inputs
    signal = advantages.reshape(advantages.size(0), -1).ne(0).any(dim=1)
    if bool(signal.all()):
        return inputs
    if not bool(signal.any()):
        signal[0] = True
    rows = advantages.size(0)
    return {
        k: v[signal] if isinstance(v, torch.Tensor) and v.dim() > 0 and v.size(0) == rows else v
        for k, v in inputs.items()
    }


def signal_by_domain(
    rewards_per_func: torch.Tensor, weights: torch.Tensor, domains: list[str], num_generations: int
) -> dict[str, list[float]]:
    """Per domain, 1.0 for each group of samples whose rewards differ (it moves the policy), else 0.0.

    Logged as `signal/<domain>`: which domains' questions give GRPO its gradient. A group whose samples all
    scored alike has advantage 0, as every group of a question whose passages show no answer does.
    """
    total = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1).view(-1, num_generations)
    spread = (total.max(dim=1).values - total.min(dim=1).values) > 1e-6
    out: dict[str, list[float]] = {}
    for group, moved in enumerate(spread.tolist()):
        out.setdefault(domains[group * num_generations], []).append(float(moved))
    return out


def _trainer_class() -> type:
    """TRL's GRPOTrainer with two changes that make crashes and resumes safe, and one that saves work.

    1. Each epoch's prompt order depends only on (seed, epoch). TRL's RepeatSampler seeds its generator
       once per run, so a run resumed at epoch e drew epoch 0's order again; Trainer calls `set_epoch` on
       samplers that have one, so giving it one makes a resumed run replay the same prompts.
    2. Checkpoints are written into `output_dir/.staging/checkpoint-N` and renamed into place when
       complete, so a crash mid-save never leaves a partial `checkpoint-N` behind.
    3. Rows without a learning signal skip the forward and backward passes (`drop_flat_rows`), and each
       prompt's copies share one prompt pass in generation (`prefill_once_per_prompt`).
    """
    from transformers.trainer_utils import rotate_checkpoints
    from trl import GRPOTrainer

    score_completions_only_on_cpu()

    class SafeGRPOTrainer(GRPOTrainer):
        _staging = False
        prepared_from_cache = False  # this rank read the prepared dataset instead of retrieving itself

        # Where a step's time goes: `time/generate_s` and `time/rewards_s` per step next to TRL's `step_time`
        # (the rest is the policy's forward and backward passes). TRL averages `_metrics` over each log step.
        def _generate_single_turn(self, *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                with prefill_once_per_prompt(self.accelerator.unwrap_model(self.model_wrapped)):
                    return super()._generate_single_turn(*args, **kwargs)
            finally:
                self._metrics["train"]["time/generate_s"].append(time.perf_counter() - start)

        def _calculate_rewards(self, inputs: list[dict[str, Any]], *args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                rewards = super()._calculate_rewards(inputs, *args, **kwargs)
            finally:
                self._metrics["train"]["time/rewards_s"].append(time.perf_counter() - start)
            domains = [row.get("domain") or "default" for row in inputs]
            # Gathered over processes: the domains are only known here when this process holds every row.
            if self.model.training and rewards.size(0) == len(domains):
                weights = self.reward_weights.to(rewards.device)
                for domain, moved in signal_by_domain(
                    rewards, weights, domains, self.num_generations
                ).items():
                    self._metrics["train"][f"signal/{domain}"].extend(moved)
            return rewards

        def _compute_loss(self, model: Any, inputs: dict[str, Any]) -> Any:
            if self.model.training:
                kept = drop_flat_rows(self, inputs)
                self._metrics["train"]["rows_trained"].append(float(kept["advantages"].size(0)))
                inputs = kept
            return super()._compute_loss(model, inputs)

        def _get_train_sampler(self, dataset: Any = None) -> Any:
            sampler = super()._get_train_sampler(dataset)
            generator, seed = getattr(sampler, "generator", None), getattr(sampler, "seed", None)
            if generator is not None and seed is not None and not hasattr(sampler, "set_epoch"):
                sampler.set_epoch = lambda epoch: generator.manual_seed(seed + epoch)
            return sampler

        def _get_output_dir(self, trial: Any) -> str:
            out = super()._get_output_dir(trial)
            return os.path.join(out, STAGING_DIR) if self._staging else out

        def _save_checkpoint(self, model: Any, trial: Any) -> None:
            self._staging = True
            try:
                super()._save_checkpoint(model, trial)
            finally:
                self._staging = False
            self.accelerator.wait_for_everyone()
            if self.args.should_save:
                run_dir = self._get_output_dir(trial)
                name = f"checkpoint-{self.state.global_step}"
                final = os.path.join(run_dir, name)
                if os.path.exists(final):
                    shutil.rmtree(final)
                os.replace(os.path.join(run_dir, STAGING_DIR, name), final)
                shutil.rmtree(os.path.join(run_dir, STAGING_DIR), ignore_errors=True)
                rotate_checkpoints(
                    output_dir=run_dir,
                    save_total_limit=self.args.save_total_limit,
                    best_model_checkpoint=self.state.best_model_checkpoint,
                    use_mtime=True,
                )
            self.accelerator.wait_for_everyone()

    return SafeGRPOTrainer


def build_trainer(cfg: RunConfig, *, resume: bool = False) -> tuple[Any, Path | None]:
    """The configured GRPOTrainer and the checkpoint to resume from (None = fresh start)."""
    out = cfg.output_dir
    checkpoint = last_checkpoint(out) if resume else None
    if resume and checkpoint is None:
        raise ConfigError(f"--resume: no complete checkpoint-* in {out}; start without --resume")
    if not resume and (last_checkpoint(out) is not None or (out / ADAPTER_DIR).exists()):
        raise ConfigError(
            f"training.output_dir: {out} holds a previous run; pass --resume to continue it, "
            "--overwrite to replace it, or set training.output_dir=another/dir"
        )
    out.mkdir(parents=True, exist_ok=True)
    # Seed before peft draws the LoRA initial weights: TRL builds the adapter before Trainer seeds.
    set_seed(int(cfg.training.get("seed", 0)))
    # Cheap checks first (tokenizer, data, rewards), so bad input fails before the model loads.
    check_source(cfg.model.name_or_path)
    first_tok = load_tokenizer(cfg.model.name_or_path, cfg.model.trust_remote_code)
    chat = uses_chat(first_tok, cfg.model.chat_template)
    parts = build_parts(cfg, chat, disable_tqdm=False)
    args, options = parts.args, parts.options
    extra: dict[str, Any] = {}
    cache = out / PREPARED_DIR
    # Under `accelerate launch`, the main process retrieves and writes the cache; the other ranks wait,
    # then read it (they never load the index), so retrieval runs once per machine, not once per rank.
    with args.main_process_first(desc="retrieval and prompts"):
        from_cache = (cache / "key.json").is_file()
        train_ds = prepare_split(
            cfg,
            cfg.data.train,
            options,
            cache,
            cfg.data.max_train_samples,
            split="grpo",
        )
    train_ds = augment_dataset(
        train_ds,
        cfg.data.counterfactual_fraction,
        int(cfg.training.get("seed", 0)),
        options,
        cfg.data.counterfactual_values,
    )
    train_ds, cut = finish_prompts(
        train_ds,
        first_tok,
        options,
        cfg.prompt.max_tokens,
        "training prompts",
        cut_mode=cfg.prompt.cut,
        window=model_window(cfg.model.name_or_path, cfg.model.trust_remote_code),
        completion_tokens=int(args.max_completion_length or 0),
    )
    if cfg.data.skip_unreachable:
        keep = reachable(train_ds)
        train_ds = train_ds.select([i for i, k in enumerate(keep) if k])
        print(
            f"data.skip_unreachable: {keep.count(False)} of {len(keep)} training questions dropped "
            "(their answer is in none of their passages)"
        )
    if cfg.lora.init_adapter:
        check_adapter(cfg.lora.init_adapter, "lora.init_adapter")
    model, tok = load_model(cfg.model)
    peft_config = parts.lora
    if cfg.lora.init_adapter:  # continue an existing adapter (e.g. a supervised one) instead of a fresh one
        model, peft_config = load_adapter(model, cfg.lora.init_adapter, trainable=True), None
    if parts.multi_turn:
        install_tool_template(tok)
        extra["environment_factory"] = environment_factory(load_retriever(cfg), search_options(cfg))
    with warnings.catch_warnings():
        # TRL warns on every multi-turn run that `environment_factory` is experimental. We chose it knowingly
        # and pin TRL (pyproject), so the notice tells the user nothing they can act on; other warnings stay.
        warnings.filterwarnings(
            "ignore", message=".*'environment_factory'.*experimental", category=UserWarning
        )
        trainer = _trainer_class()(
            model=model,
            reward_funcs=parts.reward_funcs,
            args=args,
            train_dataset=train_ds,
            processing_class=tok,
            peft_config=peft_config,
            **extra,
        )
    trainer.prepared_from_cache = from_cache
    trainer.truncated_prompts = cut
    trainer.remove_callback(ProgressCallback)
    trainer.add_callback(SummaryLine())
    trainer.add_callback(MetricsFile(out / METRICS_FILE))
    trainer.add_callback(CollapseWarning())
    trainer.add_callback(TruncationWarning())
    tensorboard_into(trainer, out / TENSORBOARD_DIR)
    return trainer, checkpoint


def trainable_digest(model: Any) -> str:
    """sha256 over the trainable weights (names and bytes): equal on every rank when data parallelism works."""
    digest = hashlib.sha256()
    for name, param in sorted(model.named_parameters()):
        if param.requires_grad:
            digest.update(name.encode())
            digest.update(param.detach().float().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()


def _rank_report(trainer: Any) -> dict[str, list[Any]]:
    """Per rank (gathered on all): the trainable-weight digest and whether its data came from the cache."""
    from accelerate.utils import gather_object

    mine = [(trainable_digest(trainer.model), bool(trainer.prepared_from_cache))]
    ranks = gather_object(mine) if trainer.accelerator.num_processes > 1 else mine
    return {
        "weights_sha256_per_rank": [d for d, _ in ranks],
        "prepared_from_cache_per_rank": [c for _, c in ranks],
    }


def train(cfg: RunConfig, *, resume: bool = False, overwrite: bool = False) -> dict[str, Any]:
    """Run GRPO + LoRA as configured; returns a summary (also written to `train_summary.json`)."""
    out = cfg.output_dir
    if overwrite and not resume and out.exists():
        for child in [*out.glob("checkpoint-*"), out / ADAPTER_DIR, out / METRICS_FILE]:
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    fresh = not out.exists()
    try:
        trainer, checkpoint = build_trainer(cfg, resume=resume)
    except BaseException:
        if fresh:  # failed before training started: leave no half-made run folder behind
            shutil.rmtree(out, ignore_errors=True)
        raise
    guard = NonFiniteGuard()
    trainer.add_callback(guard)
    write_atomic(out / RESOLVED_CONFIG, dump_config(cfg))
    metrics_path = out / METRICS_FILE
    if checkpoint is not None:
        trim_metrics(metrics_path, int(checkpoint.name.split("-")[-1]))
    else:
        metrics_path.unlink(missing_ok=True)  # every rank gets here; one of them removes it
    trainable, total = trainable_parameters(trainer.model)
    start = time.time()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except BaseException as exc:
        for cb in trainer.callback_handler.callbacks:  # end the progress bar's line before the error
            if isinstance(cb, ProgressCallback) and cb.training_bar is not None:
                cb.training_bar.close()
        text = str(exc)
        if isinstance(exc, RuntimeError) and ("inf" in text or "nan" in text):
            # Typically torch.multinomial refusing NaN/inf probabilities while sampling completions.
            raise GrpoRagError(
                f"training stopped: the model's outputs became non-finite at step {trainer.state.global_step + 1}"
                f" ({text.splitlines()[0]}). Checkpoints already in {out} are kept; lower "
                "training.learning_rate, then rerun with --resume or from scratch"
            ) from None
        raise
    seconds = time.time() - start
    if guard.bad:
        raise GrpoRagError(
            f"training stopped: {guard.bad}. The last good checkpoint is kept in {out}; lower "
            "training.learning_rate or set training.max_grad_norm, then rerun with --resume"
        )
    adapter = save_adapter(trainer, out) if trainer.accelerator.is_main_process else out / ADAPTER_DIR
    summary = {
        "output_dir": str(out),
        "adapter": str(adapter),
        "steps": trainer.state.global_step,
        "train_seconds": round(seconds, 2),
        "resumed_from": str(checkpoint) if checkpoint else None,
        "truncated_prompts": trainer.truncated_prompts,
        "trainable_params": trainable,
        "total_params": total,
        **_rank_report(trainer),
    }
    if trainer.accelerator.is_main_process:
        write_atomic(out / "train_summary.json", json.dumps(summary, indent=2) + "\n")
        draw_after_training(out)  # plots/training_curves.png
    return summary
