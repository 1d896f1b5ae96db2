"""Per-domain LoRA experts: several adapters on one base model, adapter assignment, eval CLI smoke."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml
from datasets import Dataset

from grpo_rag.cli import main
from grpo_rag.errors import ConfigError
from grpo_rag.sections import from_dict
from grpo_rag.studies.experts import (
    BASE,
    SHARED,
    assign_adapters,
    expert_adapters,
    expert_config,
    load_experts,
    memory_report,
)


def _save_adapter(model_dir: str, out: Path, seed: int) -> None:
    """A LoRA adapter with random (non-zero) weights, so each adapter changes the outputs differently."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    base = AutoModelForCausalLM.from_pretrained(model_dir)
    peft = get_peft_model(base, LoraConfig(r=2, target_modules="all-linear", init_lora_weights=False))
    peft.save_pretrained(str(out))


@pytest.fixture(scope="module")
def experts_dir(tiny_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("experts")
    for seed, name in enumerate([SHARED, "datacenter"]):
        _save_adapter(tiny_run["model"]["name_or_path"], root / name / "adapter", seed)
    return root


def test_all_adapters_share_one_base(tiny_run: dict[str, Any], experts_dir: Path) -> None:
    from transformers import AutoModelForCausalLM

    cfg = from_dict(copy.deepcopy(tiny_run))
    model, tok, names = load_experts(cfg, experts_dir)
    assert names == ["datacenter", SHARED]
    base_count = sum(
        p.numel() for p in AutoModelForCausalLM.from_pretrained(cfg.model.name_or_path).parameters()
    )
    mem = memory_report(model, names)
    assert mem["base_params"] == base_count  # the base is held once, not once per adapter
    assert all(mem["adapters"][n]["params"] > 0 for n in names)
    assert mem["adapters"]["datacenter"]["params"] == mem["adapters"][SHARED]["params"]
    assert mem["one_model_per_adapter_bytes"] > mem["total_bytes"]
    ids = tok(["Question: how fast?"], return_tensors="pt")
    outs = {}
    with torch.no_grad():
        for name in names:
            model.set_adapter(name)
            outs[name] = model(**ids).logits
        with model.disable_adapter():
            outs[BASE] = model(**ids).logits
    assert not torch.allclose(outs["datacenter"], outs[SHARED])
    assert not torch.allclose(outs[BASE], outs[SHARED])


def test_assign_adapters_falls_back_to_shared() -> None:
    rows = Dataset.from_dict({"domain": ["datacenter", "mobility"], "routed_top": ["mobility", "datacenter"]})
    names = ["datacenter", SHARED]
    assert assign_adapters(rows, "oracle", names) == ["datacenter", SHARED]
    assert assign_adapters(rows, "router", names) == [SHARED, "datacenter"]
    assert assign_adapters(rows, SHARED, names) == [SHARED, SHARED]
    with pytest.raises(ConfigError, match="no adapter for domain"):
        assign_adapters(rows, "oracle", ["datacenter"])
    with pytest.raises(ConfigError, match="needs a router"):
        assign_adapters(rows.remove_columns("routed_top"), "router", names)


def test_expert_config_and_discovery(tiny_run: dict[str, Any], tmp_path: Path, experts_dir: Path) -> None:
    cfg = from_dict(copy.deepcopy(tiny_run))
    sub = expert_config(cfg, tmp_path, "mobility")
    assert sub.data.domains == ["mobility"] and sub.output_dir == tmp_path / "mobility"
    assert expert_config(cfg, tmp_path, SHARED).data.domains is None
    assert cfg.data.domains is None and cfg.output_dir != sub.output_dir  # the original is untouched
    assert set(expert_adapters(experts_dir)) == {"datacenter", SHARED}
    with pytest.raises(ConfigError, match="no adapters under"):
        expert_adapters(tmp_path)


def test_eval_cli_with_experts_and_router(
    tiny_run: dict[str, Any], tmp_path: Path, experts_dir: Path, capsys: pytest.CaptureFixture
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(copy.deepcopy(tiny_run)))
    for router, mode in (("bm25", "router"), (None, "oracle")):
        out = tmp_path / f"eval-{mode}"
        argv = ["eval", str(config), "--experts", str(experts_dir), "--out", str(out)]
        assert main(argv + (["--router", router] if router else [])) == 0
        metrics = json.loads((out / "metrics.json").read_text())
        assert metrics["n"] == 5 and metrics["memory"]["base_params"] > 0
        preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        # datacenter questions go to the datacenter expert; everything else to the shared adapter
        for p in preds:
            assert p["adapter"] == ("datacenter" if p["domain"] == "datacenter" else SHARED)
    router_file = tmp_path / "nb.npz"
    assert main(["route-train", str(config), "--out", str(router_file)]) == 0
    out = tmp_path / "eval-nb"
    argv = ["eval", str(config), "--experts", str(experts_dir), "--router", str(router_file)]
    assert main([*argv, "--out", str(out)]) == 0
    assert "adapters used" in capsys.readouterr().out
    assert main(["eval", str(config), "--experts", str(tmp_path / "nope")]) == 2
    assert "is not a directory" in capsys.readouterr().err


def test_train_experts_cli_trains_shared_and_one_per_domain(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    raw = copy.deepcopy(tiny_run)
    raw["training"].update(
        {"output_dir": str(tmp_path / "experts" / SHARED), "max_steps": 1, "save_steps": 1}
    )
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["train-experts", str(config), "--domains", "mobility"]) == 0
    assert set(expert_adapters(tmp_path / "experts")) == {SHARED, "mobility"}
    resolved = yaml.safe_load((tmp_path / "experts" / "mobility" / "config.resolved.yaml").read_text())
    assert resolved["data"]["domains"] == ["mobility"]
    prepared = json.loads((tmp_path / "experts" / "mobility" / "train_summary.json").read_text())
    assert prepared["steps"] == 1


def test_expert_and_plain_evaluation_write_the_same_keys(
    tiny_run: dict[str, Any], tmp_path: Path, experts_dir: Path
) -> None:
    """Both go through `evaluate_model`: same metric keys, the experts path adds only the adapter counts."""
    from grpo_rag.evaluation.evaluate import eval_prompts, evaluate
    from grpo_rag.studies.experts import evaluate_with_adapters

    cfg = from_dict(copy.deepcopy(tiny_run))
    plain = evaluate(cfg, None, tmp_path / "plain")
    model, tok, names = load_experts(cfg, experts_dir)
    prepared, context = eval_prompts(cfg, tok)
    experts = evaluate_with_adapters(
        cfg, model, tok, prepared, assign_adapters(prepared, "oracle", names), tmp_path / "exp", "experts"
    )
    assert set(plain) == set(experts) and plain["adapters"] is None
    assert sum(experts["adapters"].values()) == experts["n"] == plain["n"]
    assert experts["context"] == plain["context"] == context == "retrieved"
