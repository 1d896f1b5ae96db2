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
