"""The embedded model's builder: tokenizer, counterfactual warm-up data, reproducible bootstrap."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset

from grpo_rag.demo.bootstrap import BootstrapConfig, sft_examples, train_tokenizer
from grpo_rag.errors import ConfigError
from grpo_rag.pipeline.prepare import PromptOptions
from grpo_rag.sections import from_dict


def test_sft_examples_use_novel_values_and_the_configured_prompt(
    prepared_row: Callable[..., dict[str, Any]],
) -> None:
    prepared = Dataset.from_list([prepared_row() for _ in range(20)])
    cfg = BootstrapConfig(counterfactual_fraction=1.0, copy_fraction=0.0)
    ds = sft_examples(prepared, cfg, epochs=1, options=PromptOptions(instructions="Short."))
    assert len(ds) == 20
    assert all(p.startswith("Short.") for p in ds["prompt"])
    values = {re.search(r"<answer>(.*)</answer>", c).group(1) for c in ds["completion"]}
    assert len(values) > 10  # new values, not the one gold value repeated
    for prompt, completion in zip(ds["prompt"], ds["completion"], strict=True):
        assert re.search(r"<answer>(.*)</answer>", completion).group(1) in prompt  # copyable from the passage


def test_answer_copies_are_identity_maps_on_token_ids() -> None:
    tok = train_tokenizer(["The routers of Ab-Cd are supplied by Drygrur."] * 20, 300)
    passage = tok("supplied by Drygrur.", add_special_tokens=False).input_ids
    answer = tok("<answer> Drygrur</answer>", add_special_tokens=False).input_ids
    value = tok(" Drygrur", add_special_tokens=False).input_ids
    assert value == passage[2 : 2 + len(value)] and answer[1 : 1 + len(value)] == value


def test_bad_bootstrap_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="bootstrap.counterfactual_values: expected novel or pool"):
        from_dict({"bootstrap": {"counterfactual_values": "random"}})
    with pytest.raises(ConfigError, match="bootstrap.copy_fraction"):
        from_dict({"bootstrap": {"copy_fraction": 1.0}})


def test_bootstrap_is_reproducible(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    import copy

    from safetensors.torch import load_file

    from grpo_rag.demo.bootstrap import bootstrap

    raw = copy.deepcopy(tiny_run)
    bootstrap(from_dict(raw), out_dir=str(tmp_path / "again"))
    a = load_file(str(Path(raw["model"]["name_or_path"]) / "model.safetensors"))
    b = load_file(str(tmp_path / "again" / "model.safetensors"))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
