"""A bare TRL GRPO script: the baseline that `grpo-rag train` is timed against in `make bench`.

It does by hand what a user without this toolkit would write: load a model and tokenizer, load a
dataset that already has prompts, hand TRL's `GRPOTrainer` the reward functions, a `GRPOConfig` and a
peft `LoraConfig`, and train. No config validation, reward wrapping, staged checkpoints or callbacks.
Prints one JSON line with the timing (and, with --critic, also updates a PPO-style critic each step so
the bench can measure what holding one costs in memory).
Usage: python -m grpo_rag.bench.bare_trl --model DIR --data DIR --out DIR [--steps N] [--full-finetune]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path
from typing import Any

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there

#: The quickstart's rewards and weights (configs/quickstart.yaml), as plain functions.
REWARDS = (("exact_match", 1.0), ("f1", 1.0), ("grounded", 0.5), ("format", 0.2))


def rss_mib() -> float:
    """Current resident set size of this process, MiB (Linux /proc)."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far, MiB (ru_maxrss is KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_timer() -> Any:
    """A callback recording each optimizer step's wall time (generation, rewards, loss, backward, update)."""
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []
            self._start = 0.0

        def on_step_begin(self, *args: Any, **kw: Any) -> None:
            self._start = time.perf_counter()

        def on_step_end(self, *args: Any, **kw: Any) -> None:
            self.times.append(time.perf_counter() - self._start)

    return StepTimer()


def step_stats(times: list[float]) -> dict[str, Any]:
    """Median step time without the first step (warm-up), and all step times."""
    import statistics

    steady = times[1:] or times
    return {"median_step_s": statistics.median(steady) if steady else float("nan"), "step_times": times}


class CriticUpdate:
    """A PPO-style critic (value head on a model of the policy's config) updated once per GRPO step.

    GRPO needs no critic; PPO does. Holding its weights, gradients and AdamW state and running its
    forward + backward on a batch of the step's shape is what PPO adds in memory over GRPO.
    """

    def __init__(self, model_dir: str, lora: bool, batch: int, seq_len: int, lora_r: int, lora_alpha: int):
        import torch
        from transformers import AutoModelForTokenClassification

        critic = AutoModelForTokenClassification.from_pretrained(model_dir, num_labels=1)
        if lora:
            from peft import LoraConfig, get_peft_model

            # The policy's LoRA targets; the new value head (`score`) trains in full.
            targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
            critic = get_peft_model(
                critic,
                LoraConfig(r=lora_r, lora_alpha=lora_alpha, target_modules=targets, task_type="TOKEN_CLS"),
            )
        self.critic = critic
        self.opt = torch.optim.AdamW([p for p in critic.parameters() if p.requires_grad], lr=1e-5)
        gen = torch.Generator().manual_seed(0)
        self.ids = torch.randint(3, critic.config.vocab_size, (batch, seq_len), generator=gen)
        self.returns = torch.randn(batch, seq_len, generator=gen)

    def step(self) -> None:
        values = self.critic(input_ids=self.ids).logits.squeeze(-1)
        loss = ((values - self.returns) ** 2).mean()
        loss.backward()
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)


def build_trainer(a: argparse.Namespace) -> Any:
    """The GRPOTrainer a user would write for this data, model and rewards."""
    import torch
    from datasets import load_from_disk
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from grpo_rag.rewards import registry as rewards

    funcs = [rewards.resolve(name) for name, _ in REWARDS]
    model = AutoModelForCausalLM.from_pretrained(a.model)
    tok = AutoTokenizer.from_pretrained(a.model)
    tok.pad_token = tok.pad_token or tok.eos_token
    args = GRPOConfig(
        output_dir=a.out,
        max_steps=a.steps,
        learning_rate=a.lr,
        per_device_train_batch_size=a.batch,
        num_generations=a.num_generations,
        max_completion_length=a.max_completion_length,
        temperature=1.0,
        beta=a.beta,
        logging_steps=a.logging_steps,
        save_strategy="no",
        report_to="none",
        seed=a.seed,
        reward_weights=[w for _, w in REWARDS],
        use_cpu=not torch.cuda.is_available(),
        bf16=False,
    )
    peft_config = (
        None
        if a.full_finetune
        else LoraConfig(
            r=a.lora_r,
            lora_alpha=a.lora_alpha,
            lora_dropout=0.0,
            target_modules="all-linear",
            task_type="CAUSAL_LM",
        )
    )
    trainer = GRPOTrainer(
        model=model,
        reward_funcs=funcs,
        args=args,
        train_dataset=load_from_disk(a.data),
        processing_class=tok,
        peft_config=peft_config,
    )
    if a.critic:
        critic = CriticUpdate(a.model, not a.full_finetune, a.batch, a.critic_seq_len, a.lora_r, a.lora_alpha)

        class Critic(TrainerCallback):
            def on_step_end(self, *args: Any, **kw: Any) -> None:
                critic.step()

        trainer.add_callback(Critic())
    return trainer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", required=True, help="model folder (from_pretrained)")
    p.add_argument("--data", required=True, help="dataset folder (save_to_disk) with a prompt column")
    p.add_argument("--out", required=True)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--num-generations", type=int, default=8)
    p.add_argument("--max-completion-length", type=int, default=16)
    p.add_argument("--beta", type=float, default=0.04)
    p.add_argument("--logging-steps", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--lora-alpha", type=int, default=32)
    p.add_argument("--full-finetune", action="store_true", help="train every weight (no LoRA)")
    p.add_argument("--critic", action="store_true", help="also update a PPO-style critic each step")
    p.add_argument(
        "--critic-seq-len", type=int, default=256, help="critic batch length (prompt + completion)"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    a = parse_args(argv)
    import datasets  # noqa: F401  (imported before the baseline RSS, so library code is not counted)
    import peft  # noqa: F401
    import trl  # noqa: F401
    from transformers import set_seed

    set_seed(a.seed)
    rss_start = rss_mib()
    start = time.perf_counter()
    trainer = build_trainer(a)
    timer = step_timer()
    trainer.add_callback(timer)
    built = time.perf_counter()
    trainer.train()
    end = time.perf_counter()
    trainable = sum(p.numel() for p in trainer.model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in trainer.model.parameters())
    return {
        "steps": trainer.state.global_step,
        "train_seconds": end - built,
        "setup_seconds": built - start,
        "s_per_step": (end - built) / max(1, trainer.state.global_step),
        "trainable_params": trainable,
        "total_params": total,
        "rss_start_mib": rss_start,
        "peak_rss_mib": peak_rss_mib(),
        **step_stats(timer.times),
    }


if __name__ == "__main__":
    print("BENCH_RESULT " + json.dumps(main()))
