"""The core config sections: one typed dataclass per YAML section, each key documented where it is defined.

The `training` section is not re-declared here: its keys are checked against TRL's `GRPOConfig` fields
and handed to it, so every GRPO option TRL documents works and nothing is duplicated by hand. Demo and
study sections (`bootstrap`, `compare`) are defined with their code and registered at load time
(`loader.load_config(..., sections=...)`); they travel in `RunConfig.sections`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from grpo_rag.config.typed_yaml import one_of as _one_of
from grpo_rag.errors import ConfigError


@dataclass
class ModelConfig:
    """Which causal LM to train: a local directory (e.g. the bootstrapped model) or a hub id."""

    name_or_path: str = "models/tiny"  # local path or hub id; hub ids need the weights in the local cache
    # auto: on a CPU, bfloat16 when the CPU runs it natively (amx_bf16 / avx512_bf16) and a forward pass
    # measures >= 1.3x faster than float32, else float32; on a GPU, the checkpoint's own dtype.
    # Or float32 | bfloat16 | float16. LoRA weights stay float32 either way.
    dtype: str = "auto"
    chat_template: str = "auto"  # auto (use it when the tokenizer has one) | always | never
    trust_remote_code: bool = False  # only for models whose code you have read

    def __post_init__(self) -> None:
        _one_of("model.dtype", self.dtype, ("auto", "float32", "bfloat16", "float16"))
        _one_of("model.chat_template", self.chat_template, ("auto", "always", "never"))


@dataclass
class LoraConfig:
    """peft `LoraConfig` fields; only these adapters train, the base model stays frozen."""

    r: int = 16  # adapter rank
    alpha: int = 32  # scaling numerator (effective scale alpha / r)
    dropout: float = 0.0
    target_modules: list[str] | str = "all-linear"  # module names, or "all-linear"
    # A saved adapter folder to continue training from (loaded trainable; r/alpha/targets then come from
    # it, not from this section); null = fresh adapter. `grpo-rag compare` uses it for the hybrid arm.
    init_adapter: str | None = None

    def __post_init__(self) -> None:
        if self.r <= 0:
            raise ConfigError("lora.r: expected a positive integer")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError("lora.dropout: expected a number in [0, 1)")


@dataclass
class DataConfig:
    """Where the corpus and QA files are (JSONL; formats in the README)."""

    corpus: str = "data/demo/corpus.jsonl"
    train: str = "data/demo/train.jsonl"
    eval: str = "data/demo/heldout.jsonl"  # held-out QA used by `grpo-rag eval`
    max_train_samples: int | None = None  # cap on training questions (after a seeded shuffle)
    max_eval_samples: int | None = None
    # Share of training questions whose gold value is swapped, in the passage and the answer, for a novel
    # value (`augment.py`): the policy is rewarded for reading the passage, not for recalling the value.
    counterfactual_fraction: float = 0.0
    counterfactual_values: str = "pool"  # pool: another answer of the same shape | novel: random edits
    domains: list[str] | None = None  # keep only questions of these domains (train and eval); null = all
    balance_domains: bool = False  # max_train_samples drawn equally from each domain (seeded), not pooled
    # Training sets: yes/no-style questions (every gold answer a label) drawn with each label about equally often,
    # so that no constant answer ("always yes") earns more reward than another. Held-out sets are never changed.
    balance_labels: bool = False
    # GRPO training only: with balance_domains, each domain's share of max_train_samples in proportion to its
    # weight here (unlisted domains weigh 1.0), e.g. {pubmedqa: 0.5} for half another domain's questions.
    # The supervised warm start (`sft`) and held-out sets are never reweighted.
    domain_weights: dict[str, float] = field(default_factory=dict)
    # Seed of the max_train/max_eval samples, apart from training.seed, so that runs with different training
    # seeds are scored on the same questions.
    sample_seed: int = 0
    # GRPO training only: drop questions whose answer occurs in none of their retrieved passages. No sample can
    # earn the task reward there, so their groups carry no gradient (yes/no labels and abstentions are kept).
    skip_unreachable: bool = False

    def __post_init__(self) -> None:
        _one_of("data.counterfactual_values", self.counterfactual_values, ("pool", "novel"))
        if not 0.0 <= self.counterfactual_fraction <= 1.0:
            raise ConfigError(
                f"data.counterfactual_fraction: expected a share in [0, 1], got {self.counterfactual_fraction}"
            )
        if self.balance_labels and self.max_train_samples is None:
            raise ConfigError(
                "data.balance_labels: needs data.max_train_samples (it chooses which questions are drawn; "
                "with no cap every training question is used and nothing is balanced)"
            )
        if self.domain_weights and not (self.balance_domains and self.max_train_samples is not None):
            raise ConfigError(
                "data.domain_weights: needs data.balance_domains: true and data.max_train_samples (the weights "
                "share that cap between domains; without both nothing is weighted)"
            )
        for dom, weight in self.domain_weights.items():
            if not weight > 0:
                raise ConfigError(
                    f"data.domain_weights.{dom}: expected a weight > 0, got {weight} "
                    "(to leave a domain out, list the others in data.domains)"
                )
        if self.domains is not None and not self.domains:
            raise ConfigError("data.domains: expected a non-empty list of domain names, or null for all")
        for name in ("max_train_samples", "max_eval_samples"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"data.{name}: expected a positive integer or null, got {value}")


@dataclass
class RetrievalConfig:
    """BM25 settings and how many passages each prompt gets."""

    k: int = 3  # passages per prompt
    per_domain_k: dict[str, int] = field(default_factory=dict)  # k for questions of a given domain
    domains: list[str] | None = None  # restrict retrieval to these domains; null = pooled index
    index_dir: str | None = None  # a saved index (`grpo-rag index`); null = build in memory
    stemmer: str | None = "english"  # PyStemmer language, or null for none
    stopwords: str | None = "en"  # bm25s stopword list, or null for none
    backend: str = "auto"  # numpy | numba (pip install grpo-rag[fast]) | auto: numba for >= 100k passages

    def __post_init__(self) -> None:
        if self.backend not in ("auto", "numpy", "numba"):
            raise ConfigError(f"retrieval.backend: expected auto, numpy or numba, got {self.backend!r}")
        if self.k <= 0:
            raise ConfigError(f"retrieval.k: expected a positive integer, got {self.k}")
        for dom, k in self.per_domain_k.items():
            if k <= 0:
                raise ConfigError(f"retrieval.per_domain_k.{dom}: expected a positive integer, got {k}")


@dataclass
class PromptConfig:
    """Instruction text at the top of each prompt; the answer format itself is fixed (`prompts.py`).

    Small models pay for every prompt token: the quickstart uses a short instruction for the embedded model.
    """

    instructions: str | None = None  # with passages; null = the built-in `prompts.INSTRUCTIONS`
    closed_book_instructions: str | None = None  # without passages; null = `prompts.CLOSED_BOOK_INSTRUCTIONS`
    # Text the model's turn starts with, e.g. "<answer>": prompts end with it (chat prompts are rendered with
    # the tokenizer's template first) and every completion is scored as prefill + completion. null = none.
    prefill: str | None = None
    # Longest prompt, in tokens: longer prompts get their longest passages cut (token-aware) until they fit;
    # train and eval report how many were cut. null = no limit.
    max_tokens: int | None = None
    # Which part of a passage over the budget is kept: "focus" = the window holding the most of the question's
    # words (the head where none occurs), "head" = its first tokens.
    cut: str = "focus"

    def __post_init__(self) -> None:
        _one_of("prompt.cut", self.cut, ("focus", "head"))
        if self.max_tokens is not None and self.max_tokens <= 0:
            raise ConfigError(
                f"prompt.max_tokens: expected a positive number of tokens or null, got {self.max_tokens}"
            )


@dataclass
class RewardConfig:
    """One reward: a registered name, `package.module:function` or `path/file.py:function`."""

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)  # keyword options of the reward function
    on_error: str = "stop"  # a raise / bad output / timeout: "stop" the run, or "skip" (None) for that batch
    timeout_s: float | None = None  # longest one call may take, in seconds; null = no limit
    domain_weights: dict[str, float] = field(default_factory=dict)  # per-domain multiplier; others 1.0

    def __post_init__(self) -> None:
        _one_of(f"reward '{self.name}' on_error", self.on_error, ("stop", "skip"))
        for dom, w in self.domain_weights.items():
            if not 0.0 <= w < float("inf"):
                raise ConfigError(f"reward '{self.name}' domain_weights.{dom}: expected a finite number >= 0")
        if self.timeout_s is not None and self.timeout_s <= 0:
            raise ConfigError(f"reward '{self.name}' timeout_s: expected a positive number of seconds")


@dataclass
class EvalConfig:
    """Greedy evaluation settings."""

    max_new_tokens: int = 32
    batch_size: int = 32
    # Fold the LoRA weights into the base weights before generating: no adapter matmuls per layer, so
    # faster on CPU; the same model up to the rounding of the merged weights (false = peft's separate path)
    merge_adapter: bool = True


@dataclass
class RolloutConfig:
    """How completions are sampled: one shot over retrieved passages, or multi-turn with a `search` tool."""

    mode: str = "single"  # single (BM25 top-k in the prompt) | multi_turn (the model calls search(query))
    max_calls: int = 2  # multi_turn: search calls per rollout (TRL's max_tool_calling_iterations)
    k: int | None = None  # multi_turn: passages per search call; null = retrieval.k
    domain_filter: bool = False  # multi_turn: restrict each search to the question's own domain

    def __post_init__(self) -> None:
        _one_of("rollout.mode", self.mode, ("single", "multi_turn"))
        if self.max_calls <= 0:
            raise ConfigError(f"rollout.max_calls: expected a positive integer, got {self.max_calls}")
        if self.k is not None and self.k <= 0:
            raise ConfigError(f"rollout.k: expected a positive integer or null, got {self.k}")


@dataclass
class RoutingConfig:
    """Domain routing before retrieval (`grpo_rag.retrieval.routing`): which router, how many domains, when to fall back."""

    router: str | None = None  # null = pooled retrieval; "bm25" (no training); or a saved router file (.json)
    top_m: int = 1  # search the router's m most likely domains
    threshold: float = 0.0  # top-m probability mass below this -> fall back to the pooled index
    scoring: str = (
        "pooled"  # "pooled": pooled BM25 scores, filtered to the domains; "domain": their own indices
    )

    def __post_init__(self) -> None:
        if self.top_m <= 0:
            raise ConfigError(f"routing.top_m: expected a positive integer, got {self.top_m}")
        if not 0.0 <= self.threshold <= 1.0:
            raise ConfigError(f"routing.threshold: expected a probability in [0, 1], got {self.threshold}")
        _one_of("routing.scoring", self.scoring, ("pooled", "domain"))


_S = TypeVar("_S")


@dataclass
class RunConfig:
    """The whole run, one section per concern. `source` is the YAML file it came from."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraConfig = field(default_factory=LoraConfig)
    data: DataConfig = field(default_factory=DataConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    rewards: list[RewardConfig] = field(default_factory=lambda: [RewardConfig("exact_match")])
    training: dict[str, Any] = field(default_factory=dict)  # GRPOConfig fields, checked at load
    eval: EvalConfig = field(default_factory=EvalConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # single-shot or multi-turn search
    # Domain routing before retrieval (`grpo_rag.retrieval.routing`): a retrieval setting train and eval read.
    routing: RoutingConfig = field(default_factory=RoutingConfig)
    # Registered demo / study sections by name (e.g. `bootstrap`, `compare`), each its own typed dataclass.
    sections: dict[str, Any] = field(default_factory=dict)
    source: str = "<defaults>"

    @property
    def output_dir(self) -> Path:
        return Path(self.training["output_dir"])

    def section(self, name: str, cls: type[_S]) -> _S:
        """The registered section `name` as loaded, or `cls()` (its defaults) when the YAML had none."""
        value = self.sections.get(name)
        return value if isinstance(value, cls) else cls()

    def to_dict(self) -> dict[str, Any]:
        """The config as plain YAML-ready data; registered sections appear at the top level, as in the YAML."""
        out = dataclasses.asdict(self)
        out.pop("source")
        out.update(out.pop("sections"))
        return out
