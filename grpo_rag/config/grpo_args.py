"""The `training` section -> TRL's `GRPOConfig`: defaults, keys checked against its fields, numbers read.

The section is not re-declared: any GRPOConfig field works, and TRL validates the values itself. Loading a
config checks keys and numbers against `grpo_fields.json`, a snapshot of GRPOConfig's fields, so that it
imports neither TRL nor torch; `validate_training` builds the real GRPOConfig (what train and compare do
before any work). A test compares the snapshot with the installed TRL; refresh it with
`python -m grpo_rag.config.grpo_args`.
"""

from __future__ import annotations

import dataclasses
import json
import typing
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

from grpo_rag.config.typed_yaml import unknown_key
from grpo_rag.errors import ConfigError

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


FIELDS_FILE = Path(__file__).with_name("grpo_fields.json")
_KINDS = {int: "int", float: "float", str: "str", bool: "bool"}


def field_kinds() -> dict[str, list[str]]:
    """GRPOConfig's init fields -> the plain kinds (int, float, str, bool) their annotation admits, from TRL."""
    from trl import GRPOConfig

    hints = typing.get_type_hints(GRPOConfig)
    out = {}
    for f in dataclasses.fields(GRPOConfig):
        if f.init:
            tp = hints.get(f.name)
            out[f.name] = sorted({_KINDS[a] for a in {*typing.get_args(tp), tp} if a in _KINDS})
    return out


@lru_cache(maxsize=1)
def _snapshot() -> dict[str, list[str]]:
    return json.loads(FIELDS_FILE.read_text(encoding="utf-8"))


def check_training(training: dict[str, Any]) -> dict[str, Any]:
    """Merge defaults, check every key against GRPOConfig's fields and read numbers (no TRL import)."""
    kinds = _snapshot()
    merged = {**TRAINING_DEFAULTS, **(training or {})}
    for key, value in merged.items():
        if key not in kinds:
            raise unknown_key("training", key, list(kinds))
        merged[key] = _numeric(f"training.{key}", value, set(kinds[key]))
    return merged


def validate_training(training: dict[str, Any], source: str = "<config>") -> None:
    """Let TRL's GRPOConfig validate the values (e.g. the batch a multiple of num_generations)."""
    try:
        make_grpo_config(training)
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _numeric(where: str, value: Any, allowed: set[str]) -> Any:
    """Read numbers YAML leaves as strings (YAML 1.1 parses `2e-3` as text) for numeric GRPOConfig fields."""
    if isinstance(value, str) and allowed & {"float", "int"}:
        try:
            number = float(value)
        except ValueError:
            if "str" in allowed:
                return value
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
        return int(number) if "int" in allowed and "float" not in allowed and number.is_integer() else number
    return value


#: Trackers `training.report_to` may name, and the packages they need (TRL logs to them; none is required).
TRACKERS = {
    "tensorboard": ("tensorboard", "tensorboardX"),  # `pip install 'grpo-rag[tensorboard]'`; offline
    "trackio": ("trackio",),
    "wandb": ("wandb",),
}


def check_trackers(report_to: Any) -> None:
    """A tracker named in `training.report_to` whose package is missing fails in one line, saying what to install."""
    import importlib.util

    names = [report_to] if isinstance(report_to, str) else list(report_to or [])
    for name in names:
        packages = TRACKERS.get(str(name))
        if packages and not any(importlib.util.find_spec(p) for p in packages):
            extra = " (or `pip install 'grpo-rag[tensorboard]'`)" if name == "tensorboard" else ""
            raise ConfigError(
                f"training.report_to: {name} needs the {packages[0]} package: pip install {packages[0]}{extra}"
            )


def make_grpo_config(training: dict[str, Any], **overrides: Any) -> Any:
    """TRL `GRPOConfig` from the validated `training` section (CPU forced when no GPU is visible).

    TRL's value errors become a one-line ConfigError ("training: ...").
    """
    import torch
    from trl import GRPOConfig

    args = {**training, **overrides}
    check_trackers(args.get("report_to"))
    if not torch.cuda.is_available():
        args.setdefault("use_cpu", True)
        args.setdefault("bf16", False)
    with warnings.catch_warnings():  # transformers' notice about its own renamed field, not the user's
        warnings.filterwarnings("ignore", category=FutureWarning)
        try:
            return GRPOConfig(**args)
        except (ValueError, TypeError) as exc:  # TRL's own value checks, as one line naming the section
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(f"training: {first}") from None


if __name__ == "__main__":  # refresh the snapshot after a TRL upgrade
    FIELDS_FILE.write_text(json.dumps(field_kinds(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {len(_snapshot.__wrapped__())} GRPOConfig fields -> {FIELDS_FILE}")
