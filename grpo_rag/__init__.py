"""grpo-rag: train language models to answer from retrieved passages (BM25 + GRPO + LoRA).

The public API, for scripting what the CLI does. Names load on first use, so `import grpo_rag` (and
loading a config) stays free of torch until a model is needed:

    import grpo_rag
    cfg = grpo_rag.load_config("configs/quickstart.yaml", ["training.max_steps=10"])
    summary = grpo_rag.train(cfg)
    metrics = grpo_rag.evaluate(cfg, summary["output_dir"], "runs/quickstart/eval")
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Public name -> (module, attribute).
_API = {
    "load_config": ("grpo_rag.sections", "load_config"),
    "from_dict": ("grpo_rag.sections", "from_dict"),
    "dump_config": ("grpo_rag.config", "dump_config"),
    "RunConfig": ("grpo_rag.config", "RunConfig"),
    "load_corpus": ("grpo_rag.data.io", "load_corpus"),
    "load_qa": ("grpo_rag.data.io", "load_qa"),
    "BM25Retriever": ("grpo_rag.retrieval.bm25", "BM25Retriever"),
    "build_index": ("grpo_rag.retrieval.bm25", "build_index"),
    "register_reward": ("grpo_rag.rewards.registry", "register"),
    "available_rewards": ("grpo_rag.rewards.registry", "available"),
    "score_completion": ("grpo_rag.rewards.scoring", "score_completion"),
    "train": ("grpo_rag.training.grpo", "train"),
    "dry_run": ("grpo_rag.training.dry_run", "dry_run"),
    "evaluate": ("grpo_rag.evaluation.evaluate", "evaluate"),
    "GrpoRagError": ("grpo_rag.errors", "GrpoRagError"),
}

__all__ = [
    "BM25Retriever",
    "GrpoRagError",
    "RunConfig",
    "available_rewards",
    "build_index",
    "dry_run",
    "dump_config",
    "evaluate",
    "from_dict",
    "load_config",
    "load_corpus",
    "load_qa",
    "register_reward",
    "score_completion",
    "train",
    "__version__",
]

if TYPE_CHECKING:
    from grpo_rag.config import RunConfig, dump_config
    from grpo_rag.data.io import load_corpus, load_qa
    from grpo_rag.errors import GrpoRagError
    from grpo_rag.evaluation.evaluate import evaluate
    from grpo_rag.retrieval.bm25 import BM25Retriever, build_index
    from grpo_rag.rewards.registry import available as available_rewards
    from grpo_rag.rewards.registry import register as register_reward
    from grpo_rag.rewards.scoring import score_completion
    from grpo_rag.sections import from_dict, load_config
    from grpo_rag.training.dry_run import dry_run
    from grpo_rag.training.grpo import train


def __getattr__(name: str) -> Any:
    """Load a public name on first use (PEP 562)."""
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'grpo_rag' has no attribute {name!r}") from None
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
