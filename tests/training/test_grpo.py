"""GRPO + LoRA training on the tiny fixture model: only the adapter trains, the run folder is complete."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from grpo_rag.errors import ConfigError
from grpo_rag.sections import from_dict, load_config
from grpo_rag.training.grpo import last_checkpoint, train


def _cfg(tiny_run: dict[str, Any], out: Path, **training: Any):
    raw = copy.deepcopy(tiny_run)
    raw["training"].update(output_dir=str(out), **training)
    return from_dict(raw)


def test_only_lora_weights_change(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    cfg = _cfg(tiny_run, tmp_path / "run")
    base_file = Path(cfg.model.name_or_path) / "model.safetensors"
    base_before = load_file(str(base_file))
    summary = train(cfg)
    assert summary["steps"] == 2
    assert 0 < summary["trainable_params"] < summary["total_params"]
    # The base model on disk and the base weights inside the trained model are bit-identical.
    assert all(torch.equal(base_before[k], v) for k, v in load_file(str(base_file)).items())
    adapter = tmp_path / "run" / "adapter"
    lora = load_file(str(adapter / "adapter_model.safetensors"))
    assert lora and all("lora_" in k for k in lora)
    # lora_B starts at zero in peft; training must have moved it.
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)


def test_run_folder_contract(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    cfg = _cfg(tiny_run, tmp_path / "run")
    train(cfg)
    out = tmp_path / "run"
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "reward" in r]
    assert [r["step"] for r in logged] == [1, 2]
    for key in (
        "rewards/exact_match/mean",
        "rewards/format/mean",
        "reward_std",
        "completions/mean_length",
        "step_time",
    ):
        assert key in logged[0], key
    signal = {k: v for r in logged for k, v in r.items() if k.startswith("signal/")}
    assert signal and set(signal) <= {"signal/datacenter", "signal/mobility", "signal/default"}
    assert all(0.0 <= v <= 1.0 for v in signal.values())
    assert load_config(out / "config.resolved.yaml").to_dict() == cfg.to_dict()
    assert last_checkpoint(out) == out / "checkpoint-2"
    base = AutoModelForCausalLM.from_pretrained(cfg.model.name_or_path)
    PeftModel.from_pretrained(base, str(out / "adapter"))


def test_kl_is_logged_when_beta_is_positive(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    """The issue's metrics list KL: TRL computes it against the frozen base only when beta > 0."""
    out = tmp_path / "run"
    train(_cfg(tiny_run, out, beta=0.04, max_steps=1))
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in rows if "reward" in r]
    assert logged and all(r["kl"] >= 0.0 for r in logged)


def test_refuses_to_clobber_and_resumes(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_cfg(tiny_run, out))
    with pytest.raises(ConfigError, match="previous run"):
        train(_cfg(tiny_run, out))
    summary = train(_cfg(tiny_run, out, max_steps=3), resume=True)
    assert summary["resumed_from"].endswith("checkpoint-2") and summary["steps"] == 3
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    # Step 2's row from the first run is kept once, step 3 comes from the resumed run.
    assert [r["step"] for r in rows if "reward" in r] == [1, 2, 3]


def test_resume_without_checkpoint_is_an_error(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no complete checkpoint"):
        train(_cfg(tiny_run, tmp_path / "empty"), resume=True)


def test_non_finite_training_stops_and_keeps_last_good_checkpoint(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    from grpo_rag.errors import GrpoRagError

    cfg = _cfg(tiny_run, tmp_path / "run", learning_rate=1e30, max_steps=6, save_steps=1)
    with pytest.raises(GrpoRagError, match=r"training stopped: .*(non-finite|nan|inf)"):
        train(cfg)
    good = last_checkpoint(tmp_path / "run")
    assert good is not None
    weights = load_file(str(good / "adapter_model.safetensors"))
    assert all(torch.isfinite(v).all() for v in weights.values())
    assert not (tmp_path / "run" / "adapter").exists()


def test_crash_while_saving_leaves_no_partial_checkpoint(
    tiny_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import transformers

    def crash(self: Any, output_dir: str) -> None:
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(transformers.Trainer, "_save_rng_state", crash)
    out = tmp_path / "run"
    with pytest.raises(OSError, match="simulated"):
        train(_cfg(tiny_run, out, max_steps=2, save_steps=1))
    assert not list(out.glob("checkpoint-*")), "a half-written checkpoint must not carry the final name"
    assert last_checkpoint(out) is None


def test_checkpoints_are_renamed_into_place(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_cfg(tiny_run, out, max_steps=3, save_steps=1, save_total_limit=2))
    assert sorted(p.name for p in out.glob("checkpoint-*")) == ["checkpoint-2", "checkpoint-3"]
    assert not (out / ".staging").exists()
    assert all((out / n / "trainer_state.json").is_file() for n in ("checkpoint-2", "checkpoint-3"))


def test_training_and_eval_make_no_network_calls(
    tiny_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import socket

    from grpo_rag.evaluation.evaluate import evaluate

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError(f"network access attempted: {args[1:]!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    cfg = _cfg(tiny_run, tmp_path / "run", max_steps=1)
    train(cfg)
    evaluate(cfg, tmp_path / "run", tmp_path / "eval")
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set for local model folders


def test_counterfactual_fraction_swaps_training_answers(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.training.grpo import build_trainer

    raw = copy.deepcopy(tiny_run)
    raw["training"]["output_dir"] = str(tmp_path / "run")
    raw["data"]["counterfactual_fraction"] = 1.0
    trainer, _ = build_trainer(from_dict(raw))
    rows = list(trainer.train_dataset)
    originals = [json.loads(line)["answers"] for line in Path(raw["data"]["train"]).read_text().splitlines()]
    changed = [r for r in rows if r["answers"] not in originals]
    assert changed, "no answer was swapped"
    for r in changed:  # the swapped value is what the gold passage now says and what the prompt shows
        assert r["answers"][0] in r["prompt"]


def test_init_adapter_continues_an_existing_adapter(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    train(_cfg(tiny_run, tmp_path / "first"))
    first = load_file(str(tmp_path / "first" / "adapter" / "adapter_model.safetensors"))
    raw = copy.deepcopy(tiny_run)
    raw["lora"]["init_adapter"] = str(tmp_path / "first")
    raw["training"].update(output_dir=str(tmp_path / "second"), learning_rate=0.0, beta=0.04)
    summary = train(from_dict(raw))
    assert 0 < summary["trainable_params"] < summary["total_params"]
    second = tmp_path / "second" / "adapter"
    # With a zero learning rate the saved adapter is exactly the one it started from (a fresh one would
    # have lora_B = 0), and TRL's frozen "ref" copy used for the KL term is not saved with it.
    assert load_file(str(second / "adapter_model.safetensors")).keys() == first.keys()
    assert all(
        torch.equal(first[k], v) for k, v in load_file(str(second / "adapter_model.safetensors")).items()
    )
    assert not (second / "ref").exists()
    raw["lora"]["init_adapter"] = str(tmp_path / "nowhere")
    raw["training"]["output_dir"] = str(tmp_path / "third")
    with pytest.raises(ConfigError, match="lora.init_adapter"):
        train(from_dict(raw))


def test_cpu_scores_only_completion_positions(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    """The CPU patch of TRL's fused log-prob head is applied once a trainer is built, and changes no log-prob."""
    import trl.trainer.utils as trl_utils

    from grpo_rag.training.grpo import build_trainer

    raw = copy.deepcopy(tiny_run)
    raw["training"]["output_dir"] = str(tmp_path / "run")
    trainer, _ = build_trainer(from_dict(raw))
    assert getattr(trl_utils._use_triton, "grpo_rag_cpu", False), "TRL moved its hook: recheck the CPU patch"
    assert trl_utils._use_triton(torch.device("cpu")) is True
    model = trainer.model
    ids = torch.randint(3, 50, (2, 12))
    mask = torch.ones_like(ids)
    with torch.no_grad():
        compact, *_ = trainer._get_per_token_logps_and_entropies(model, ids, mask, logits_to_keep=4)
        original = trl_utils._use_triton
        trl_utils._use_triton = lambda device: False  # TRL's own CPU path: every position scored
        try:
            full, *_ = trainer._get_per_token_logps_and_entropies(model, ids, mask, logits_to_keep=4)
        finally:
            trl_utils._use_triton = original
    assert torch.allclose(compact, full, atol=1e-5)


def test_skip_unreachable_drops_questions_no_passage_answers(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    from grpo_rag.training.grpo import build_trainer

    raw = copy.deepcopy(tiny_run)
    rows = [json.loads(line) for line in Path(raw["data"]["train"]).read_text().splitlines()]
    rows.append({**rows[0], "id": "unreachable", "answers": ["purple elephants"]})  # in no passage
    train_file = tmp_path / "train.jsonl"
    train_file.write_text("".join(json.dumps(r) + "\n" for r in rows))
    raw["data"].update(train=str(train_file), max_train_samples=None, skip_unreachable=True)
    raw["training"]["output_dir"] = str(tmp_path / "run")
    trainer, _ = build_trainer(from_dict(raw))
    kept = set(trainer.train_dataset["id"])
    assert "unreachable" not in kept and rows[0]["id"] in kept


def test_flat_rows_skip_the_forward_and_leave_the_gradient_unchanged(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    """Rows whose advantage is 0 add nothing to TRL's dapo loss, so dropping them keeps every gradient."""
    from trl import GRPOTrainer

    from grpo_rag.training.grpo import build_trainer, drop_flat_rows

    raw = copy.deepcopy(tiny_run)
    raw["training"]["output_dir"] = str(tmp_path / "run")
    trainer, _ = build_trainer(from_dict(raw))
    trainer.current_gradient_accumulation_steps = 1
    model = trainer.model
    model.train()
    torch.manual_seed(0)
    completion_mask = torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]])
    inputs = {
        "prompt_ids": torch.randint(3, 50, (4, 6)),
        "prompt_mask": torch.ones(4, 6, dtype=torch.long),
        "completion_ids": torch.randint(3, 50, (4, 4)),
        "completion_mask": completion_mask,
        "advantages": torch.tensor([0.0, 1.2, 0.0, -0.7]),
        "num_items_in_batch": completion_mask.sum(),
    }
    assert drop_flat_rows(trainer, inputs)["completion_ids"].size(0) == 2

    def grads(loss_fn: Any) -> list[torch.Tensor]:
        model.zero_grad()
        loss_fn(model, dict(inputs)).backward()
        return [p.grad.clone() for p in model.parameters() if p.requires_grad]

    full = grads(lambda m, x: GRPOTrainer._compute_loss(trainer, m, x))
    rows: list[int] = []
    score = trainer._get_per_token_logps_and_entropies
    trainer._get_per_token_logps_and_entropies = lambda m, ids, *a, **k: (
        rows.append(ids.size(0)),
        score(m, ids, *a, **k),
    )[1]
    kept = grads(trainer._compute_loss)
    assert rows == [2]  # only the rows with a signal went through the model
    assert any(g.abs().sum() > 0 for g in full)
    assert all(torch.allclose(a, b, atol=1e-6) for a, b in zip(full, kept, strict=True))
    flat = {**inputs, "advantages": torch.zeros(4)}
    assert drop_flat_rows(trainer, flat)["advantages"].tolist() == [0.0]  # one row left, so the step runs
    trainer.beta = 0.1  # the KL term counts on every row: nothing dropped
    assert drop_flat_rows(trainer, inputs)["advantages"].size(0) == 4


def test_generation_encodes_each_prompt_once(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    """The trainer's generation runs the prompt pass on one copy of each repeated prompt (TRL's layout)."""
    from grpo_rag.training.grpo import build_trainer

    raw = copy.deepcopy(tiny_run)
    raw["training"]["output_dir"] = str(tmp_path / "run")
    trainer, _ = build_trainer(from_dict(raw))
    base = trainer.accelerator.unwrap_model(trainer.model_wrapped).get_base_model()
    sizes: list[int] = []
    hook = base.register_forward_pre_hook(
        lambda _m, _a, kw: sizes.append(kw["input_ids"].size(0)), with_kwargs=True
    )
    prompts = [[5, 6, 7, 8], [5, 6, 7, 8], [9, 10, 11], [9, 10, 11]]
    try:
        completions, _ = trainer._generate_single_turn(prompts, None, {}, 2)
    finally:
        hook.remove()
    assert sizes[0] == 2 and len(completions) == 4


def test_signal_by_domain_counts_groups_whose_rewards_differ() -> None:
    from grpo_rag.training.grpo import signal_by_domain

    nan = float("nan")
    # Two reward functions (weights 1 and 0.5), groups of two samples: med differs only in the second reward,
    # wiki's first group is flat (a reward of None, NaN, counts as 0), its second differs.
    rewards = torch.tensor([[1.0, 0.0], [1.0, 1.0], [0.0, nan], [0.0, 0.0], [0.0, 0.0], [1.0, 0.0]])
    domains = ["med", "med", "wiki", "wiki", "wiki", "wiki"]
    out = signal_by_domain(rewards, torch.tensor([1.0, 0.5]), domains, 2)
    assert out == {"med": [1.0], "wiki": [0.0, 1.0]}
    # A weight of 0 hides a reward's differences: no signal from it.
    assert signal_by_domain(rewards, torch.tensor([1.0, 0.0]), domains, 2) == {
        "med": [0.0],
        "wiki": [0.0, 1.0],
    }
