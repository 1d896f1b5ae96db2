"""Reward plug-ins used by the tests, loaded by path like a user's `rewards/*.py` file."""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any


def text_hash(prompts: Sequence[Any], completions: Sequence[Any], **columns: Any) -> list[float | None]:
    """A deterministic score that differs between different completions, so GRPO advantages are non-zero."""
    return [float(zlib.crc32(str(c).encode("utf-8")) % 7) / 6.0 for c in completions]


def fails_after_two_steps(
    prompts: Sequence[Any], completions: Sequence[Any], trainer_state: Any = None, **columns: Any
) -> list[float | None]:
    """Scores like `text_hash` for two optimizer steps, then raises: a plug-in bug that shows up late."""
    if trainer_state is not None and trainer_state.global_step >= 2:
        raise RuntimeError("plug-in bug at step 3")
    return text_hash(prompts, completions)
