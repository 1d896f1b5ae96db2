"""Trainer callbacks of a GRPO run: metrics appended as they are logged, guards against NaN/inf and against a
collapsed policy, a summary line.

They use transformers' callback hooks only, so they work under `accelerate launch` as under one process.
"""

from __future__ import annotations

import json
import math
import os
import time
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback
from transformers.trainer_callback import ProgressCallback

from grpo_rag.data.io import write_atomic
from grpo_rag.progress import stage


class MetricsFile(TrainerCallback):
    """Appends one JSON object per logging step to metrics.jsonl, flushed at once (a crash loses nothing)."""

    def __init__(self, path: Path):
        self.path = path

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or not logs:
            return
        row = {"step": state.global_step, "time": round(time.time(), 3), **logs}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(row) + "\n")
            f.flush()
            os.fsync(f.fileno())


class NonFiniteGuard(TrainerCallback):
    """Stops the run when the loss, gradient norm or a trainable weight is NaN/inf, before it is saved.

    The checkpoint of that step is not written, so the last checkpoint on disk is the last good one.
    """

    def __init__(self) -> None:
        self.bad: str | None = None

    def _stop(self, control: Any, what: str) -> None:
        self.bad = self.bad or what
        control.should_training_stop = True
        control.should_save = False

    def on_step_end(self, args: Any, state: Any, control: Any, model: Any = None, **kw: Any) -> None:
        if model is None:
            return
        for name, param in model.named_parameters():
            if param.requires_grad and not torch.isfinite(param).all():
                self._stop(control, f"trainable weight {name} became non-finite at step {state.global_step}")
                return

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        for key in ("loss", "grad_norm"):
            value = (logs or {}).get(key)
            if isinstance(value, float) and not math.isfinite(value):
                self._stop(control, f"{key} became {value} at step {state.global_step}")


class _StreakWarning(TrainerCallback):
    """Warns once when a logged metric stays at or above `threshold` for `patience` logged steps in a row.

    Steps that log no such metric leave the streak alone; the run goes on (the warning says what to try).
    """

    key = ""

    def __init__(self, patience: int = 4, threshold: float = 0.85) -> None:
        self.patience, self.threshold = patience, threshold
        self.streak = 0
        self.warned_at: int | None = None
        self.first_step: int | None = None

    def message(self, args: Any, step: int, value: float) -> str:
        """The warning's text, without the leading "warning: "."""
        raise NotImplementedError

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        value = (logs or {}).get(self.key)
        if not isinstance(value, (int, float)):
            return
        if value < self.threshold:
            self.streak, self.first_step = 0, None
            return
        self.streak += 1
        self.first_step = self.first_step or state.global_step
        if self.streak >= self.patience and self.warned_at is None and state.is_world_process_zero:
            self.warned_at = state.global_step
            print("warning: " + self.message(args, state.global_step, float(value)), flush=True)


class CollapseWarning(_StreakWarning):
    """Warns once when, for `patience` logged steps in a row, almost no group's completions differ in reward.

    TRL's `frac_reward_zero_std` (the share of groups whose completions all got the same reward, hence
    advantage 0) then stays at or above `threshold`: GRPO has next to no gradient left, usually because the
    policy answers everything the same way (seen: "yes" to every question, after 0.1-0.6 for 70 steps). A
    rare group with variance can still move it (one run recovered after 50 steps).
    """

    key = "frac_reward_zero_std"

    def message(self, args: Any, step: int, value: float) -> str:
        return (
            f"GRPO step {step}: since step {self.first_step}, in at least "
            f"{self.threshold:.0%} of the groups all {args.num_generations} completions got the same "
            f"reward (frac_reward_zero_std {value:.2f} now), so GRPO gets next to no gradient; the "
            "policy may have collapsed to one answer (it can recover). "
            "Try a lower training.learning_rate, data.balance_labels: true, or a higher "
            "training.temperature; earlier checkpoints are in the run folder"
        )


class TruncationWarning(_StreakWarning):
    """Warns once when, for `patience` logged steps in a row, nearly every sampled completion hits the cap.

    TRL's `completions/clipped_ratio` is the share of completions that ran to `max_completion_length`
    without an end-of-sequence token. Seen on SmolLM2 in the first 10 steps of both runs that later
    collapsed to one answer: the policy learnt to pad a closed answer with citations up to the cap.
    """

    key = "completions/clipped_ratio"

    def __init__(self, patience: int = 4, threshold: float = 0.9) -> None:
        super().__init__(patience, threshold)

    def message(self, args: Any, step: int, value: float) -> str:
        return (
            f"GRPO step {step}: since step {self.first_step}, at least {self.threshold:.0%} of the "
            f"sampled completions ran to training.max_completion_length ({args.max_completion_length} "
            f"tokens; completions/clipped_ratio {value:.2f} now) without ending: the policy is padding "
            "its answers (repeated citations, say) rather than stopping, which came before a collapse "
            "to one answer. Try a lower training.learning_rate, or a larger "
            "training.max_completion_length if the answers need the room"
        )


class SummaryLine(ProgressCallback):
    """The `train` stage bar (steps, ETA), with one short line per logging step instead of the raw log dict."""

    def on_train_begin(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.is_world_process_zero:
            self.training_bar = stage("train", total=state.max_steps, unit="step")
        self.current_step = 0

    def on_log(
        self, args: Any, state: Any, control: Any, logs: dict[str, Any] | None = None, **kw: Any
    ) -> None:
        if not state.is_world_process_zero or self.training_bar is None or not logs:
            return
        parts = [f"step {state.global_step}/{state.max_steps}"]
        if "reward" in logs:
            parts.append(f"reward {logs['reward']:.3f}±{logs.get('reward_std', 0.0):.2f}")
        for key, value in logs.items():
            if key.startswith("rewards/") and key.endswith("/mean"):
                parts.append(f"{key[8:-5]} {value:.3f}")
        for key, label in (
            ("completions/mean_length", "len"),
            ("kl", "kl"),
            ("step_time", "s/step"),
            ("time/generate_s", "generate s"),
            ("loss", "loss"),
            ("train_loss", "final loss"),
        ):
            if key in logs and isinstance(logs[key], (int, float)):
                parts.append(f"{label} {logs[key]:.3g}")
        self.training_bar.write(" | ".join(parts))


def trim_metrics(path: Path, upto_step: int) -> None:
    """On resume, drop metric rows logged after the checkpoint we continue from (they will be redone)."""
    if not path.is_file():
        return
    keep = [
        line
        for line in path.read_text().splitlines()
        if line.strip() and json.loads(line).get("step", 0) <= upto_step
    ]
    write_atomic(path, "".join(f"{line}\n" for line in keep))


def tensorboard_into(trainer: Any, folder: Path) -> None:
    """Point the TensorBoard writer (`training.report_to: tensorboard`) at `folder` (the run's `tensorboard/`).

    transformers' default is `output_dir/runs/<date>_<host>/`, a new folder per start; one fixed folder keeps a
    resumed run's events together. TENSORBOARD_LOGGING_DIR, when the user sets it, still wins.
    """
    from transformers.integrations import TensorBoardCallback

    for cb in trainer.callback_handler.callbacks:
        if isinstance(cb, TensorBoardCallback) and cb.logging_dir is None:
            cb.logging_dir = str(folder)
