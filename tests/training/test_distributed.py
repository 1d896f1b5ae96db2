"""Distributed launch: `accelerate launch --config_file configs/accelerate/ddp.yaml --num_processes 2 -m
grpo_rag train` on the tiny model, on CPUs (torchrun + gloo; accelerate's `--cpu` would start one process).

Both ranks must end with bit-identical trainable weights (DDP averaged their gradients every step), and
only the main process may run retrieval: the other rank reads its prepared-data cache and never loads the
index. Every accelerate file under configs/accelerate/ must also be one accelerate itself accepts.
"""

from __future__ import annotations

import copy
import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
ACCELERATE_FILES = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))


@pytest.mark.parametrize("path", ACCELERATE_FILES, ids=lambda p: p.name)
def test_accelerate_files_are_valid_and_say_how_to_launch(path: Path) -> None:
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(path))  # rejects keys accelerate does not know
    assert config.num_machines == 1
    header = path.read_text().split("\ncompute_environment")[0]
    assert "accelerate launch --config_file configs/accelerate/" + path.name in header


def test_accelerate_files_cover_the_engines() -> None:
    kinds = {yaml.safe_load(p.read_text())["distributed_type"]: p.name for p in ACCELERATE_FILES}
    assert set(kinds) == {"NO", "MULTI_GPU", "FSDP", "DEEPSPEED"}
    stages = sorted(
        yaml.safe_load(p.read_text()).get("deepspeed_config", {}).get("zero_stage", 0)
        for p in ACCELERATE_FILES
    )
    assert stages[-2:] == [2, 3]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_two_cpu_ranks_train_the_same_adapter_and_retrieve_once(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    raw = copy.deepcopy(tiny_run)
    out = tmp_path / "run"
    raw["training"].update(output_dir=str(out), max_steps=3, save_steps=100)
    config = tmp_path / "ddp.yaml"
    config.write_text(yaml.safe_dump(raw))
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--config_file",
        str(REPO / "configs/accelerate/ddp.yaml"),
        "--num_processes",
        "2",
        "--main_process_port",
        str(_free_port()),
        "-m",
        "grpo_rag",
        "train",
        str(config),
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 3
    digests = summary["weights_sha256_per_rank"]
    assert len(digests) == 2 and digests[0] == digests[1], "ranks diverged: DDP did not sync them"
    # Rank 0 retrieved and wrote the cache; rank 1 waited for it and read it.
    assert summary["prepared_from_cache_per_rank"] == [False, True]
    assert (out / "adapter" / "adapter_model.safetensors").is_file()
