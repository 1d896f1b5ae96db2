"""Model loading: the `model.dtype: auto` choice on CPUs (bf16 only where it is native and measured faster)."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import torch

from grpo_rag.config import ModelConfig
from grpo_rag.training import modeling


def test_cpu_flags_are_read_from_cpuinfo(tmp_path: Path) -> None:
    info = tmp_path / "cpuinfo"
    info.write_text("processor : 0\nflags : fpu sse2 avx512f avx512_bf16 amx_tile amx_bf16\n")
    assert modeling.cpu_bf16_flags(str(info)) == ["amx_bf16", "avx512_bf16"]
    info.write_text("processor : 0\nflags : fpu sse2 avx2\n")
    assert modeling.cpu_bf16_flags(str(info)) == []
    assert modeling.cpu_bf16_flags(str(tmp_path / "missing")) == []  # unknown: fall back to fp32


@pytest.mark.parametrize(
    ("flags", "speedup", "expected"),
    [
        ([], 9.9, torch.float32),  # no native bf16: never bf16, however it would measure
        (["avx512_bf16"], 3.6, torch.bfloat16),
        (["avx512_bf16"], 1.1, torch.float32),  # native but not faster: fp32
    ],
)
def test_auto_dtype_on_cpu(
    tiny_run: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    flags: list[str],
    speedup: float,
    expected: torch.dtype,
) -> None:
    monkeypatch.setattr(modeling.torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(modeling, "cpu_bf16_flags", lambda: flags)
    monkeypatch.setattr(modeling, "bf16_speedup", lambda model: speedup)
    monkeypatch.setattr(modeling, "_CHOSEN", {})
    said: list[str] = []
    monkeypatch.setattr(modeling, "_stderr", said.append)
    cfg = ModelConfig(**{**copy.deepcopy(tiny_run)["model"], "dtype": "auto"})
    model, _ = modeling.load_model(cfg)
    assert model.dtype == expected
    assert said and said[0].startswith(f"model.dtype auto -> {str(expected).split('.')[-1]}")
    model, _ = modeling.load_model(cfg)  # the choice is made once per model and process
    assert model.dtype == expected and len(said) == 1


def test_lora_weights_stay_fp32_on_a_bf16_base(tiny_run: dict[str, Any]) -> None:
    from peft import get_peft_model

    from grpo_rag.sections import from_dict
    from grpo_rag.training.parts import lora_config

    cfg = from_dict({**copy.deepcopy(tiny_run), "model": {**tiny_run["model"], "dtype": "bfloat16"}})
    model, _ = modeling.load_model(cfg.model)
    peft_model = get_peft_model(model, lora_config(cfg))
    trainable = [p for p in peft_model.parameters() if p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    assert any(p.dtype == torch.bfloat16 for p in peft_model.parameters() if not p.requires_grad)


def test_measured_speedup_restores_fp32(tiny_run: dict[str, Any]) -> None:
    cfg = ModelConfig(**copy.deepcopy(tiny_run)["model"])
    model, _ = modeling.load_model(cfg)
    assert modeling.bf16_speedup(model) > 0 and model.dtype == torch.float32


def test_missing_model_hint_names_the_fastest_way(tmp_path: Path) -> None:
    from grpo_rag.errors import ConfigError

    with pytest.raises(
        ConfigError, match=r"grpo-rag model install smollm2-135m-instruct --dir .*about a minute"
    ):
        modeling.check_source(str(tmp_path / "models" / "smollm2-135m-instruct"))
    with pytest.raises(
        ConfigError, match=r"fastest model to get is `grpo-rag model install smollm2-135m-instruct`"
    ):
        modeling.check_source("models/tiny")


def test_merged_adapter_matches_the_peft_path(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from peft import PeftModel, get_peft_model

    from grpo_rag.sections import from_dict
    from grpo_rag.training.parts import lora_config

    cfg = from_dict(copy.deepcopy(tiny_run))
    model, tok = modeling.load_model(cfg.model)
    peft_model = get_peft_model(model, lora_config(cfg))
    torch.manual_seed(0)
    for name, p in peft_model.named_parameters():
        if "lora_B" in name:  # peft starts B at zero (a no-op adapter); make it change the outputs
            p.data.normal_(0, 0.5)
    peft_model.save_pretrained(tmp_path / "adapter")
    ids = tok("the passage says", return_tensors="pt")["input_ids"]
    base_logits = modeling.load_model(cfg.model)[0](ids).logits
    separate, _ = modeling.load_for_inference(cfg.model, tmp_path)
    merged, _ = modeling.load_for_inference(cfg.model, tmp_path, merge=True)
    assert isinstance(separate, PeftModel) and not isinstance(merged, PeftModel)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    with torch.no_grad():
        a, b = separate(ids).logits, merged(ids).logits
    assert not torch.allclose(a, base_logits, atol=1e-3)  # the adapter does change the model
    assert torch.allclose(a, b, atol=1e-4)
