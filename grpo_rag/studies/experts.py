"""Per-domain LoRA experts: one GRPO adapter per domain plus a shared one, all served on ONE base model.

Training reuses `train.train` with a config copy per domain (`data.domains=[d]`, its own output dir
under one experts dir). Inference loads every adapter into one peft model (`load_adapter(adapter_name=)`)
and switches with `set_adapter` per batch of questions routed to the same adapter, so the base weights
are held once in memory whatever the number of experts.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datasets import Dataset

from grpo_rag.config import RunConfig
from grpo_rag.errors import ConfigError
from grpo_rag.evaluation.evaluate import evaluate_model
from grpo_rag.pipeline.prepare import Context

SHARED = "shared"  # the adapter trained on all domains; also the fallback for a domain without an expert
BASE = "base"  # adapter name meaning "all adapters switched off" (the base model alone)


def expert_config(cfg: RunConfig, experts_dir: Path, name: str) -> RunConfig:
    """Copy of `cfg` that trains adapter `name` (a domain, or `shared` = all domains) into experts_dir/name."""
    out = copy.deepcopy(cfg)
    out.data.domains = None if name == SHARED else [name]
    out.training = {**cfg.training, "output_dir": str(experts_dir / name)}
    return out


def train_experts(
    cfg: RunConfig,
    experts_dir: str | Path | None = None,
    domains: Sequence[str] | None = None,
    *,
    overwrite: bool = False,
) -> dict[str, dict[str, Any]]:
    """Train the shared adapter and one expert per domain (default: every domain of the training file)."""
    from grpo_rag.data.io import load_qa
    from grpo_rag.training.grpo import train

    root = Path(experts_dir) if experts_dir is not None else cfg.output_dir.parent
    if domains is None:
        domains = sorted(set(load_qa(cfg.data.train)["domain"]))
    if SHARED in domains:
        raise ConfigError(f"'{SHARED}' is the name of the all-domain adapter; it cannot be a domain name")
    return {name: train(expert_config(cfg, root, name), overwrite=overwrite) for name in [SHARED, *domains]}


def expert_adapters(experts_dir: str | Path) -> dict[str, Path]:
    """Adapter folders found under `experts_dir` (`NAME/adapter/` or `NAME/` holding adapter_config.json)."""
    root = Path(experts_dir)
    if not root.is_dir():
        raise ConfigError(
            f"--experts: {root} is not a directory; train experts with `grpo-rag train-experts`"
        )
    found = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        for cand in (sub / "adapter", sub):
            if (cand / "adapter_config.json").is_file():
                found[sub.name] = cand
                break
    if not found:
        raise ConfigError(f"--experts: no adapters under {root} (expected NAME/adapter/adapter_config.json)")
    return found


def load_experts(cfg: RunConfig, experts_dir: str | Path) -> tuple[Any, Any, list[str]]:
    """(peft model holding every adapter on one base, tokenizer, adapter names); eval mode."""
    from peft import PeftModel

    from grpo_rag.training.modeling import load_model

    adapters = expert_adapters(experts_dir)
    base, tok = load_model(cfg.model)
    names = list(adapters)
    model = PeftModel.from_pretrained(
        base, str(adapters[names[0]]), adapter_name=names[0], is_trainable=False
    )
    for name in names[1:]:
        model.load_adapter(str(adapters[name]), adapter_name=name, is_trainable=False)
    model.eval()
    return model, tok, names


def memory_report(model: Any, names: Sequence[str]) -> dict[str, Any]:
    """Parameters and bytes held: the base once plus each adapter, against one full copy per adapter."""
    seen: set[int] = set()
    base_params = base_bytes = 0
    per: dict[str, dict[str, int]] = {n: {"params": 0, "bytes": 0} for n in names}
    for pname, p in model.named_parameters():
        if p.data_ptr() in seen:
            continue
        seen.add(p.data_ptr())
        owner = next((n for n in names if "lora_" in pname and f".{n}." in f"{pname}."), None)
        if owner is None:
            base_params += p.numel()
            base_bytes += p.numel() * p.element_size()
        else:
            per[owner]["params"] += p.numel()
            per[owner]["bytes"] += p.numel() * p.element_size()
    adapter_bytes = sum(v["bytes"] for v in per.values())
    return {
        "base_params": base_params,
        "base_bytes": base_bytes,
        "adapters": per,
        "total_bytes": base_bytes + adapter_bytes,
        "one_model_per_adapter_bytes": len(names) * base_bytes + adapter_bytes,
    }


def assign_adapters(prepared: Dataset, mode: str, names: Sequence[str]) -> list[str]:
    """Adapter per row: `oracle` = its gold domain, `router` = the router's top domain, else a fixed name.

    A domain without an expert falls back to the shared adapter.
    """
    if mode == "oracle":
        wanted = list(prepared["domain"])
    elif mode == "router":
        if "routed_top" not in prepared.column_names:
            raise ConfigError("--experts with router assignment needs a router (--router or routing.router)")
        wanted = list(prepared["routed_top"])
    elif mode in names or mode == BASE:
        return [mode] * len(prepared)
    else:
        raise ConfigError(f"adapter {mode!r} not found; have: {', '.join(names)}")
    if SHARED not in names and any(w not in names for w in wanted):
        missing = sorted({w for w in wanted if w not in names})
        raise ConfigError(
            f"--experts: no adapter for domain(s) {missing} and no '{SHARED}' adapter to fall back to"
        )
    return [w if w in names else SHARED for w in wanted]


def adapter_switch(model: Any) -> Any:
    """`switch(name)` for `evaluate_model`: activates adapter `name`, or switches all off for `base`."""

    def switch(name: str) -> contextlib.AbstractContextManager[Any]:
        if name == BASE:  # the base model is the shared peft model with its adapters switched off
            return model.disable_adapter()
        model.set_adapter(name)
        return contextlib.nullcontext()

    return switch


def evaluate_with_adapters(
    cfg: RunConfig,
    model: Any,
    tok: Any,
    prepared: Dataset,
    adapters: list[str],
    out_dir: str | Path,
    title: str,
    *,
    context: Context = "retrieved",
    data: str | None = None,
) -> dict[str, Any]:
    """Greedy-evaluate prepared rows, each with its adapter, through the one evaluation path (`evaluate_model`)."""
    return evaluate_model(
        cfg,
        model,
        tok,
        prepared,
        out_dir,
        label=f"experts ({', '.join(sorted(set(adapters)))})",
        context=context,
        data=data,
        adapters=adapters,
        switch=adapter_switch(model),
        title=title,
    )
