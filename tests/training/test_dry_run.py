"""`grpo-rag train --dry-run` on the GPU recipes, on this CPU machine: builds everything, trains nothing."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.cli import main
from grpo_rag.sections import load_config

REPO = Path(__file__).resolve().parents[2]
RECIPES = sorted((REPO / "configs" / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_recipes_validate_on_cpu_and_carry_their_launch_command(path: Path) -> None:
    cfg = load_config(path)
    assert cfg.training["use_vllm"] and cfg.training["vllm_mode"] == "colocate" and cfg.training["bf16"]
    header = path.read_text().split("\nmodel:")[0]
    assert "--dry-run" in header and f"grpo-rag train configs/recipes/{path.name}" in header


def _dry_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, out: Path, *overrides: str
) -> str:
    monkeypatch.chdir(REPO)  # the recipe's data paths are relative to the repository
    code = main(
        [
            "train",
            str(RECIPES[0]),
            f"training.output_dir={out}",
            "retrieval.index_dir=null",
            "data.max_train_samples=40",
            *overrides,
            "--dry-run",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0, text
    assert not out.exists(), "a dry run must not create the run folder"
    return text


def test_dry_run_without_the_model_says_what_it_skipped(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))  # the hub model is surely not cached
    text = _dry_run(capsys, monkeypatch, tmp_path / "run")
    assert "ok       GRPOConfig:" in text and "use_vllm=True" in text and "bf16=True" in text
    assert "ok       LoraConfig: r=16" in text
    assert "ok       data: 40 training questions" in text and "top-5 passages" in text
    assert "skipped  model: 'Qwen/Qwen2.5-0.5B-Instruct'" in text
    assert "skipped  vllm:" in text and "not installed" in text
    assert text.rstrip().splitlines()[-1].startswith("dry run: nothing trained or written;")


def test_dry_run_with_the_tiny_model_loads_it_and_attaches_lora(
    tiny_run: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    model = copy.deepcopy(tiny_run)["model"]["name_or_path"]
    text = _dry_run(capsys, monkeypatch, tmp_path / "run", f"model.name_or_path={model}")
    assert "ok       tokenizer:" in text
    assert "ok       model: LlamaForCausalLM" in text and "torch.bfloat16" in text and "LoRA trains" in text
    assert "skipped  model" not in text


def test_dry_run_rejects_bad_inputs_like_a_real_run(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(REPO)
    code = main(
        [
            "train",
            str(RECIPES[0]),
            f"training.output_dir={tmp_path / 'run'}",
            f"data.train={tmp_path / 'missing.jsonl'}",
            "--dry-run",
        ]
    )
    assert code == 2
    assert "missing.jsonl" in capsys.readouterr().err
