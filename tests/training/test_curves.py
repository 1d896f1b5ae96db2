"""Training curves: `train` draws them at the end of a run, with a KL panel exactly when beta > 0."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.errors import GrpoRagError
from grpo_rag.sections import from_dict
from grpo_rag.training.curves import moving_average, panels, plot_curves, read_metrics
from grpo_rag.training.grpo import train

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def test_train_writes_the_curves_with_kl_when_beta_is_positive(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    raw = copy.deepcopy(tiny_run)
    raw["training"].update(output_dir=str(tmp_path / "run"), beta=0.1)
    train(from_dict(raw))
    picture = tmp_path / "run" / "plots" / "training_curves.png"
    width, height = _png_size(picture)
    assert width > 800 and height > 500  # a grid of panels, not an empty canvas
    rows = read_metrics(tmp_path / "run")
    assert [r["step"] for r in rows] == [1, 2]  # the end-of-training summary row is left out
    assert panels(rows) == [
        "reward",
        "rewards/",
        "signal/",
        "completions/mean_length",
        "kl",
        "learning_rate",
        "step_time",
    ]


def test_panels_follow_what_was_logged() -> None:
    grpo = [
        {"step": 1, "reward": 0.5, "reward_std": 0.1, "rewards/f1/mean": 0.4, "loss": 0.0, "step_time": 2.0}
    ]
    assert panels(grpo) == ["reward", "rewards/", "step_time"]  # no KL at beta 0, no GRPO loss
    sft = [{"step": 1, "loss": 5.8, "learning_rate": 1e-4}, {"step": 2, "loss": 5.1, "learning_rate": 2e-4}]
    assert panels(sft) == ["loss", "learning_rate"]


def test_the_signal_panel_comes_with_per_domain_shares() -> None:
    rows = [{"step": 1, "reward": 0.5, "signal/wikipedia": 1.0, "frac_reward_zero_std": 0.5}]
    assert panels(rows) == ["reward", "signal/"]
    assert "signal/" not in panels([{"step": 1, "reward": 0.5, "frac_reward_zero_std": 0.5}])


def test_themoving_average_uses_only_the_window_before_each_step() -> None:
    assert moving_average([0.0, 1.0, 1.0, 0.0], 2) == [0.0, 0.5, 1.0, 0.5]
    assert moving_average([1.0, 0.0], 10) == [1.0, 0.5]
    assert moving_average([], 3) == []


def test_plot_redraws_from_the_metrics_file(tmp_path: Path) -> None:
    rows = [{"step": s, "loss": 6.0 - s, "learning_rate": 1e-4} for s in (1, 2, 3)]
    (tmp_path / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = plot_curves(tmp_path, tmp_path / "curves.png")
    assert _png_size(out)[0] > 0


def test_a_folder_without_metrics_is_a_one_line_error(tmp_path: Path) -> None:
    with pytest.raises(GrpoRagError, match="no metrics.jsonl"):
        plot_curves(tmp_path)
    (tmp_path / "metrics.jsonl").write_text(json.dumps({"step": 3, "train_runtime": 1.0}) + "\n")
    with pytest.raises(GrpoRagError, match="no logged training steps"):
        plot_curves(tmp_path)
