"""Replay a finished GRPO run's `metrics.jsonl` through the training warnings, to see when each would fire.

Usage: python scripts/replay_warnings.py RUN/metrics.jsonl [...]
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from types import SimpleNamespace

from grpo_rag.training.callbacks import CollapseWarning, TruncationWarning


def main(paths: list[str]) -> None:
    """Print, per run, the step at which each warning fires (None: never)."""
    for path in paths:
        warnings = [CollapseWarning(), TruncationWarning()]
        with open(path, encoding="utf-8") as f:
            rows = [json.loads(line) for line in f]
        config = next((r for r in rows if "max_completion_length" in r), {})
        args = SimpleNamespace(
            num_generations=config.get("num_generations", 4),
            max_completion_length=config.get("max_completion_length", 16),
        )
        with contextlib.redirect_stdout(io.StringIO()):
            for row in rows:
                if "step" not in row:
                    continue
                state = SimpleNamespace(global_step=row["step"], is_world_process_zero=True)
                for warning in warnings:
                    warning.on_log(args, state, None, row)
        fired = ", ".join(f"{type(w).__name__} at step {w.warned_at}" for w in warnings)
        print(f"{path}: {fired}")


if __name__ == "__main__":
    main(sys.argv[1:])
