"""The run folder's layout: file names, the last complete checkpoint, and the atomic adapter save.

Everything a run writes is named here, so training, resuming, evaluation and the studies agree on it.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

METRICS_FILE = "metrics.jsonl"
RESOLVED_CONFIG = "config.resolved.yaml"
ADAPTER_DIR = "adapter"
STAGING_DIR = ".staging"  # checkpoints are written here first, then renamed into place
PREPARED_DIR = "prepared-train"  # the training questions with retrieval done (reused when inputs match)
PLOTS_DIR = "plots"  # PNGs: the training curves (written by train, redrawn by `grpo-rag plot`), eval bars
CURVES_FILE = "training_curves.png"
TENSORBOARD_DIR = "tensorboard"  # event files when training.report_to includes tensorboard
REPORT_FILE = "run_report.md"  # `grpo-rag report RUN`


def last_checkpoint(output_dir: Path) -> Path | None:
    """Newest `checkpoint-N` holding its trainer_state.json (checkpoints are renamed into place when complete;
    the check also skips folders written by tools that save in place)."""
    done = [p for p in output_dir.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
    done = [p for p in done if p.name.split("-")[-1].isdigit()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def save_adapter(trainer: Any, out: Path) -> Path:
    """Save the PEFT adapter and tokenizer into `out/adapter` through a temporary folder (atomic swap)."""
    final = out / ADAPTER_DIR
    tmp = out / f".{ADAPTER_DIR}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    # Only the trained adapter: TRL adds a frozen copy named "ref" when GRPO continues an existing adapter.
    names = getattr(trainer.model, "peft_config", {})
    only = {"selected_adapters": ["default"]} if "ref" in names and "default" in names else {}
    trainer.model.save_pretrained(str(tmp), safe_serialization=True, **only)
    trainer.processing_class.save_pretrained(str(tmp))
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    return final
