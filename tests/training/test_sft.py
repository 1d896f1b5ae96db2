"""Supervised LoRA fine-tuning: only the adapter trains, targets cite the gold passage wherever it lands."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import torch
from safetensors.torch import load_file

from grpo_rag.data.io import load_corpus, load_qa
from grpo_rag.errors import ConfigError
from grpo_rag.pipeline.prepare import PromptOptions, attach_context
from grpo_rag.retrieval.bm25 import BM25Retriever
from grpo_rag.rewards.scoring import parse_completion
from grpo_rag.sections import from_dict
from grpo_rag.training.sft import SFTOptions, sft_dataset, train_sft


@pytest.mark.parametrize("context", ["closed_book", "retrieved"])
def test_sft_trains_lora_only(tiny_run: dict[str, Any], tmp_path: Path, context: str) -> None:
    cfg = from_dict(copy.deepcopy(tiny_run))
    base_file = Path(cfg.model.name_or_path) / "model.safetensors"
    base_before = load_file(str(base_file))
    settings = SFTOptions(steps=3, learning_rate=0.05, batch_size=2, context=context)  # type: ignore[arg-type]
    summary = train_sft(cfg, settings, tmp_path / "run")
    assert summary["steps"] == 3 and summary["context"] == context
    assert 0 < summary["trainable_params"] < summary["total_params"]
    assert all(torch.equal(base_before[k], v) for k, v in load_file(str(base_file)).items())
    lora = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    assert lora and all("lora_" in k for k in lora)
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)  # peft starts lora_B at zero
    assert json.loads((tmp_path / "run" / "train_summary.json").read_text())["steps"] == 3
    assert [
        json.loads(line)["step"] for line in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    ]
    with pytest.raises(ConfigError, match="--overwrite"):
        train_sft(cfg, settings, tmp_path / "run")


def test_sft_scores_only_target_positions_with_the_same_loss(
    tiny_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The CPU patch (score only the target's positions) is on for SFT, and its losses equal TRL's own path."""
    import trl.kernels.chunked_logprob as kernels
    import trl.trainer.utils as trl_utils

    import grpo_rag.training.sft as sft_module

    cfg = from_dict(copy.deepcopy(tiny_run))
    settings = SFTOptions(steps=3, learning_rate=0.05, batch_size=2)
    monkeypatch.setattr(trl_utils, "_use_triton", kernels._use_triton)  # as if no GRPO run patched it yet
    train_sft(cfg, settings, tmp_path / "compact")
    assert getattr(trl_utils._use_triton, "grpo_rag_cpu", False), "TRL moved its hook: recheck the CPU patch"
    monkeypatch.setattr(trl_utils, "_use_triton", kernels._use_triton)  # TRL's CPU path: every position
    monkeypatch.setattr(sft_module, "score_completions_only_on_cpu", lambda: None)
    train_sft(cfg, settings, tmp_path / "full")
    assert trl_utils._use_triton(torch.device("cpu")) is False
    losses = [
        [
            r["loss"]
            for r in map(json.loads, (tmp_path / run / "metrics.jsonl").read_text().splitlines())
            if "loss" in r
        ]
        for run in ("compact", "full")
    ]
    assert any(losses[0]) and losses[0] == pytest.approx(losses[1], rel=1e-5)


def test_sft_targets_follow_the_shuffled_gold_passage(tiny_corpus_path: Path, tiny_qa_path: Path) -> None:
    corpus = load_corpus(tiny_corpus_path)
    qa = load_qa(tiny_qa_path, set(corpus["id"]))
    prepared = attach_context(qa, BM25Retriever.build(corpus), PromptOptions(k=3))
    data = sft_dataset(prepared, epochs=4, shuffle=True, options=PromptOptions(), seed=0)
    assert len(data) == 4 * len(prepared)
    orders = set()
    for i, (prompt, completion) in enumerate(zip(data["prompt"], data["completion"], strict=True)):
        row = prepared[i % len(prepared)]
        parsed = parse_completion(completion)
        if not row["answerable"]:
            assert parsed.answer == "unanswerable"
            continue
        assert parsed.answer == row["answers"][0]
        lines = [line for line in prompt.splitlines() if line.startswith("[")]
        orders.add((row["id"], tuple(lines)))
        gold_text = dict(zip(corpus["id"], corpus["text"], strict=True))[row["gold_ids"][0]]
        if row["gold_ids"][0] in row["passage_ids"]:
            assert parsed.citations and all(gold_text in lines[n - 1] for n in parsed.citations)
        else:
            assert not parsed.citations
    assert len(orders) > len(prepared)  # the passage order changes between epochs

    closed = attach_context(qa, None, PromptOptions(context="closed_book", chat=True))
    data = sft_dataset(closed, epochs=1, shuffle=True, options=PromptOptions(chat=True), seed=0)
    assert data["completion"][0][0]["role"] == "assistant" and "[" not in data["completion"][0][0]["content"]
    assert "[1]" not in data["prompt"][0][1]["content"]


def test_sft_with_prefill_targets_start_with_it(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    """With `prompt.prefill`, the prompt stops where the model's turn starts and the target opens with the
    prefill, so what SFT teaches is exactly what the prefilled prompts of GRPO and eval continue."""
    from grpo_rag.cli import main
    from grpo_rag.pipeline.prepare import prepare_split, prompt_options
    from grpo_rag.training.modeling import load_tokenizer

    raw = copy.deepcopy(tiny_run)
    raw["prompt"] = {"prefill": "<answer>"}
    cfg = from_dict(raw)
    tok = load_tokenizer(cfg.model.name_or_path)
    options = prompt_options(cfg, chat=False)
    prepared = prepare_split(cfg, cfg.data.train, options, None)
    data = sft_dataset(prepared, 1, shuffle=False, options=options, seed=0, tokenizer=tok)
    for row, example in zip(prepared, data, strict=True):
        assert example["prompt"] == row["prompt"]  # plain-text prompts: nothing appended
        assert example["completion"].startswith("<answer>") and "</answer>" in example["completion"]
        assert parse_completion(example["completion"]).well_formed
    config = tmp_path / "c.yaml"
    config.write_text(json.dumps(raw))
    out = tmp_path / "sft"
    assert main(["sft", str(config), "--steps", "2", "--batch-size", "2", "--out", str(out)]) == 0
    assert (out / "adapter" / "adapter_config.json").is_file()


def test_multi_turn_warm_start_trains_on_model_turns_of_gold_searches(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    raw = copy.deepcopy(tiny_run)
    raw["rollout"] = {"mode": "multi_turn", "max_calls": 2, "k": 2}
    cfg = from_dict(raw)
    settings = SFTOptions(steps=2, learning_rate=0.05, batch_size=2, context="search")
    summary = train_sft(cfg, settings, tmp_path / "run")
    assert summary["steps"] == 2 and summary["context"] == "search"
    # one tiny question is unanswerable and another's answer is not in what its question retrieves
    assert summary["left_out_questions"] >= 1 and summary["examples"] > 0
    lora = load_file(str(tmp_path / "run" / "adapter" / "adapter_model.safetensors"))
    assert any(v.abs().sum() > 0 for k, v in lora.items() if "lora_B" in k)


@pytest.mark.parametrize("checkpointing", [True, False])
def test_sft_follows_the_gradient_checkpointing_key(
    tiny_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, checkpointing: bool
) -> None:
    """`training.gradient_checkpointing` (a GRPO key) also sets the warm start's, so one key serves both."""
    import trl

    seen: list[bool] = []

    class Recording(trl.SFTTrainer):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            seen.append(kwargs["args"].gradient_checkpointing)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(trl, "SFTTrainer", Recording)
    raw = copy.deepcopy(tiny_run)
    raw.setdefault("training", {})["gradient_checkpointing"] = checkpointing
    train_sft(from_dict(raw), SFTOptions(steps=1, learning_rate=0.05, batch_size=2), tmp_path / "run")
    assert seen == [checkpointing]
