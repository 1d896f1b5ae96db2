"""Run configuration: YAML -> typed dataclasses, validated once at load, then read-only downstream.

`schema` declares the core sections, `loader` reads YAML into them, `grpo_args` maps `training` onto TRL's
`GRPOConfig`. Importing this package imports neither torch nor TRL.
"""

from grpo_rag.config.loader import apply_overrides, dump_config, from_dict, load_config, replace_sections
from grpo_rag.config.schema import (
    DataConfig,
    EvalConfig,
    LoraConfig,
    ModelConfig,
    PromptConfig,
    RetrievalConfig,
    RewardConfig,
    RolloutConfig,
    RoutingConfig,
    RunConfig,
)

__all__ = [
    "DataConfig",
    "EvalConfig",
    "LoraConfig",
    "ModelConfig",
    "PromptConfig",
    "RetrievalConfig",
    "RewardConfig",
    "RolloutConfig",
    "RoutingConfig",
    "RunConfig",
    "apply_overrides",
    "dump_config",
    "from_dict",
    "load_config",
    "replace_sections",
]
