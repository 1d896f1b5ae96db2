"""Trackers: `training.report_to: tensorboard` writes event files into the run folder, offline."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.sections import from_dict
from grpo_rag.training.grpo import train


def test_tensorboard_events_hold_the_reward_scalars(
    tiny_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("tensorboard")  # the `tensorboard` extra (part of `dev`)
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    raw = copy.deepcopy(tiny_run)
    raw["training"].update(output_dir=str(tmp_path / "run"), report_to="tensorboard")
    train(from_dict(raw))
    folder = tmp_path / "run" / "tensorboard"
    assert list(folder.glob("events.out.tfevents.*"))
    assert not (tmp_path / "run" / "runs").exists()  # not transformers' per-start default folder
    events = EventAccumulator(str(folder))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/reward", "train/reward_std", "train/rewards/exact_match/mean"} <= tags
    logged = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    want = {r["step"]: r["reward"] for r in logged if "reward" in r}
    got = {e.step: e.value for e in events.Scalars("train/reward")}
    assert got.keys() == want.keys() == {1, 2}
    assert all(got[s] == pytest.approx(want[s], rel=1e-5) for s in want)


def test_collapse_warning_needs_a_streak_of_steps_without_reward_variance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from types import SimpleNamespace

    from grpo_rag.training.callbacks import CollapseWarning

    guard = CollapseWarning(patience=3)
    args = SimpleNamespace(num_generations=4)
    for step, frac in [(2, 1.0), (4, 1.0), (6, 0.5), (8, 1.0), (10, 1.0)]:  # the streak is broken at step 6
        guard.on_log(
            args,
            SimpleNamespace(global_step=step, is_world_process_zero=True),
            None,
            {"frac_reward_zero_std": frac},
        )
    assert guard.warned_at is None and capsys.readouterr().out == ""
    for step in (12, 14):
        guard.on_log(
            args,
            SimpleNamespace(global_step=step, is_world_process_zero=True),
            None,
            {"frac_reward_zero_std": 1.0},
        )
    out = capsys.readouterr().out
    assert guard.warned_at == 12 and out.count("warning:") == 1  # once, at the third step in a row
    assert "since step 8, in at least 85% of the groups all 4 completions got the same reward" in out
    guard.on_log(args, SimpleNamespace(global_step=16, is_world_process_zero=True), None, {"loss": 0.0})
    assert guard.streak == 4  # steps that log no reward statistics leave the streak alone


def test_truncation_warning_fires_when_nearly_every_completion_hits_the_cap(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from types import SimpleNamespace

    from grpo_rag.training.callbacks import TruncationWarning

    guard = TruncationWarning()  # 4 logged steps at >= 0.9
    args = SimpleNamespace(num_generations=4, max_completion_length=16)
    # a healthy run's occasional long batch (0.53), then three capped steps: no warning yet
    for step, ratio in [(2, 0.53), (4, 1.0), (6, 0.95), (8, 0.9), (10, 0.5), (12, 1.0), (14, 1.0), (16, 1.0)]:
        state = SimpleNamespace(global_step=step, is_world_process_zero=True)
        guard.on_log(args, state, None, {"completions/clipped_ratio": ratio})
    assert guard.warned_at is None and capsys.readouterr().out == ""
    for step in (18, 20):
        state = SimpleNamespace(global_step=step, is_world_process_zero=True)
        guard.on_log(args, state, None, {"completions/clipped_ratio": 1.0})
    out = capsys.readouterr().out
    assert guard.warned_at == 18 and out.count("warning:") == 1
    assert "since step 12, at least 90% of the sampled completions ran to" in out
    assert "training.max_completion_length (16 tokens" in out
