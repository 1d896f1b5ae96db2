"""The `training` section -> TRL's `GRPOConfig`: defaults, keys checked against its fields, numbers read.

The section is not re-declared: any GRPOConfig field works, and TRL validates the values itself.
"""

from __future__ import annotations

import dataclasses
import typing
import warnings
from typing import Any

from grpo_rag.errors import ConfigError
from grpo_rag.typed_yaml import unknown_key

#: Defaults for the `training` section, applied under the user's keys (any GRPOConfig field may be set).
TRAINING_DEFAULTS: dict[str, Any] = {
    "output_dir": "runs/default",
    "learning_rate": 5e-5,
    "per_device_train_batch_size": 8,
    "num_generations": 4,
    "max_completion_length": 32,
    "max_steps": 100,
    "logging_steps": 5,
    "save_steps": 50,
    "save_total_limit": 2,
    "report_to": "none",
    "seed": 0,
    "beta": 0.0,
}


def check_training(training: dict[str, Any]) -> dict[str, Any]:
    """Merge defaults and check every key against TRL's GRPOConfig, then let GRPOConfig validate values."""
    from trl import GRPOConfig

    known = [f.name for f in dataclasses.fields(GRPOConfig) if f.init]
    merged = {**TRAINING_DEFAULTS, **(training or {})}
    hints = typing.get_type_hints(GRPOConfig)
    for key, value in merged.items():
        if key not in known:
            raise unknown_key("training", key, known)
        merged[key] = _numeric(f"training.{key}", value, hints.get(key))
    try:
        make_grpo_config(merged)
    except (ValueError, TypeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(f"training: {first}") from None
    return merged


def _numeric(where: str, value: Any, tp: Any) -> Any:
    """Read numbers YAML leaves as strings (YAML 1.1 parses `2e-3` as text) for numeric GRPOConfig fields."""
    allowed = set(typing.get_args(tp)) | {tp}
    if isinstance(value, str) and allowed & {float, int}:
        try:
            number = float(value)
        except ValueError:
            if str in allowed:
                return value
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        return int(number) if int in allowed and float not in allowed and number.is_integer() else number
    return value


def make_grpo_config(training: dict[str, Any], **overrides: Any) -> Any:
    """TRL `GRPOConfig` from the validated `training` section (CPU forced when no GPU is visible)."""
    import torch
    from trl import GRPOConfig

    args = {**training, **overrides}
    if not torch.cuda.is_available():
        args.setdefault("use_cpu", True)
        args.setdefault("bf16", False)
    with warnings.catch_warnings():  # transformers' notice about its own renamed field, not the user's
        warnings.filterwarnings("ignore", category=FutureWarning)
        return GRPOConfig(**args)
