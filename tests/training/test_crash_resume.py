"""A training run killed with SIGKILL mid-way resumes with --resume and ends bit-identical to a run that was
never interrupted (same seed, CPU): same step count, same metrics rows, same final adapter weights.

This holds because train.py gives TRL's RepeatSampler a `set_epoch` (each epoch's prompt order depends
only on seed and epoch); without it the resumed run drew other prompts and its adapter drifted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from safetensors.torch import load_file

ROOT = Path(__file__).resolve().parents[2]


def _config(tiny_run: dict[str, Any], out: Path, path: Path) -> Path:
    raw = json.loads(json.dumps(tiny_run))
    raw["training"].update(output_dir=str(out), max_steps=6, save_steps=2, save_total_limit=None)
    path.write_text(yaml.safe_dump(raw))
    return path


def _train(config: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    return subprocess.Popen(
        [sys.executable, "-m", "grpo_rag", "train", str(config), *extra],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.slow
def test_sigkill_then_resume_matches_uninterrupted_run(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    reference = _train(_config(tiny_run, tmp_path / "ref", tmp_path / "ref.yaml"))
    assert reference.wait(timeout=300) == 0, reference.stderr.read()

    config = _config(tiny_run, tmp_path / "run", tmp_path / "run.yaml")
    victim = _train(config)
    deadline = time.time() + 300
    while not (tmp_path / "run" / "checkpoint-2" / "trainer_state.json").exists():
        assert victim.poll() is None and time.time() < deadline, "run ended before its first checkpoint"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert not (tmp_path / "run" / "adapter").exists()

    resumed = _train(config, "--resume")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
    summary = json.loads((tmp_path / "run" / "train_summary.json").read_text())
    assert summary["steps"] == 6 and "checkpoint-" in summary["resumed_from"]
    # The checkpoint written before the kill equals the uninterrupted run's checkpoint at that step.
    ref = load_file(str(tmp_path / "ref" / "checkpoint-2" / "adapter_model.safetensors"))
    got = load_file(str(tmp_path / "run" / "checkpoint-2" / "adapter_model.safetensors"))
    assert ref.keys() == got.keys() and all(torch.equal(ref[k], got[k]) for k in ref)

    # Metrics: one row per step, steps 1..6, none lost or doubled by the kill.
    def rewards(run: str) -> dict[int, float]:
        rows = [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()]
        return {r["step"]: r["reward"] for r in rows if "reward" in r}

    ref_rewards, got_rewards = rewards("ref"), rewards("run")
    assert sorted(got_rewards) == sorted(ref_rewards) == [1, 2, 3, 4, 5, 6]
    assert got_rewards == ref_rewards
    final = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    reference = load_file(str(tmp_path / "ref" / "adapter" / "adapter_model.safetensors"))
    assert final.keys() == reference.keys()
    assert all(torch.equal(final[k], reference[k]) for k in reference)
