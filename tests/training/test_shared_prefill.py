"""Prefilling each repeated prompt once: the same completions as TRL's plain `generate`, fewer prompt rows."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from grpo_rag.training.shared_prefill import prefill_once_per_prompt, prompt_runs


@pytest.fixture(scope="module")
def lora_model() -> Any:
    """A random 2-layer Llama with a LoRA adapter (random B too, so the adapter changes the logits)."""
    from peft import LoraConfig, get_peft_model
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=64,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=1,
        bos_token_id=2,
    )
    model = get_peft_model(LlamaForCausalLM(config), LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    for name, p in model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(p, std=0.5)
    return model.eval()


def _batch(repeats: int) -> dict[str, torch.Tensor]:
    """Three left-padded prompts of lengths 5, 9 and 7, each repeated `repeats` times in a row (TRL's layout)."""
    prompts = [[5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18], [20, 21, 22, 23, 24, 25, 26]]
    width = max(map(len, prompts))
    rows = [p for p in prompts for _ in range(repeats)]
    ids = torch.tensor([[0] * (width - len(r)) + r for r in rows])
    return {"input_ids": ids, "attention_mask": (ids != 0).long()}


def _generate(
    model: Any, batch: dict[str, torch.Tensor], shared: bool, **gen: Any
) -> tuple[torch.Tensor, int]:
    """(generated ids, batch size of the first forward pass) with or without the shared prefill."""
    from transformers import GenerationConfig

    sizes: list[int] = []
    hook = model.get_base_model().register_forward_pre_hook(
        lambda _m, _a, kw: sizes.append(kw["input_ids"].size(0)), with_kwargs=True
    )
    config = GenerationConfig(max_new_tokens=6, pad_token_id=0, eos_token_id=1, **gen)
    torch.manual_seed(1)
    try:
        with torch.no_grad():
            if shared:
                with prefill_once_per_prompt(model):
                    out = model.generate(**batch, generation_config=config)
            else:
                out = model.generate(**batch, generation_config=config)
    finally:
        hook.remove()
    return out, sizes[0]


def test_prompt_runs_finds_consecutive_copies() -> None:
    ids = torch.tensor([[1, 2], [1, 2], [3, 4], [1, 2], [1, 2], [1, 2]])
    first, run_of_row = prompt_runs(ids)  # type: ignore[misc]
    assert first.tolist() == [0, 2, 3]
    assert run_of_row.tolist() == [0, 0, 1, 2, 2, 2]
    assert prompt_runs(torch.tensor([[1, 2], [3, 4]])) is None
    assert prompt_runs(torch.tensor([[1, 2]])) is None


@pytest.mark.parametrize("gen", [{"do_sample": False}, {"do_sample": True, "temperature": 1.0}])
def test_shared_prefill_gives_the_same_completions_from_fewer_rows(lora_model: Any, gen: dict) -> None:
    batch = _batch(repeats=4)
    plain, plain_rows = _generate(lora_model, batch, shared=False, **gen)
    shared, shared_rows = _generate(lora_model, batch, shared=True, **gen)
    assert plain_rows == 12 and shared_rows == 3  # the prompt pass ran on one copy of each prompt
    assert torch.equal(plain, shared)
    assert "generate" not in vars(lora_model)  # the wrapper is gone after the block


def test_distinct_prompts_pass_through(lora_model: Any) -> None:
    batch = _batch(repeats=1)
    plain, _ = _generate(lora_model, batch, shared=False, do_sample=False)
    shared, rows = _generate(lora_model, batch, shared=True, do_sample=False)
    assert rows == 3 and torch.equal(plain, shared)
