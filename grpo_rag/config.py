"""Run configuration: YAML -> typed dataclasses, validated once at load, then read-only downstream.

The `training` section is not re-declared here: its keys are checked against TRL's `GRPOConfig` fields
and handed to it, so every GRPO option TRL documents works and nothing is duplicated by hand.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from grpo_rag.bootstrap import BootstrapConfig
from grpo_rag.errors import ConfigError
from grpo_rag.grpo_args import check_training
from grpo_rag.typed_yaml import build


@dataclass
class ModelConfig:
    """Which causal LM to train: a local directory (e.g. the bootstrapped model) or a hub id."""

    name_or_path: str = "models/tiny"  # local path or hub id; hub ids need the weights in the local cache
    dtype: str = "auto"  # auto | float32 | bfloat16 | float16
    chat_template: str = "auto"  # auto (use it when the tokenizer has one) | always | never
    trust_remote_code: bool = False  # only for models whose code you have read

    def __post_init__(self) -> None:
        _one_of("model.dtype", self.dtype, ("auto", "float32", "bfloat16", "float16"))
        _one_of("model.chat_template", self.chat_template, ("auto", "always", "never"))


@dataclass
class LoraSettings:
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

    def __post_init__(self) -> None:
        _one_of("data.counterfactual_values", self.counterfactual_values, ("pool", "novel"))
        if not 0.0 <= self.counterfactual_fraction <= 1.0:
            raise ConfigError(
                f"data.counterfactual_fraction: expected a share in [0, 1], got {self.counterfactual_fraction}"
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
class RunConfig:
    """The whole run, one section per concern. `source` is the YAML file it came from."""

    model: ModelConfig = field(default_factory=ModelConfig)
    lora: LoraSettings = field(default_factory=LoraSettings)
    data: DataConfig = field(default_factory=DataConfig)
    retrieval: RetrievalConfig = field(default_factory=RetrievalConfig)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    rewards: list[RewardConfig] = field(default_factory=lambda: [RewardConfig("exact_match")])
    training: dict[str, Any] = field(default_factory=dict)  # GRPOConfig fields, checked at load
    eval: EvalConfig = field(default_factory=EvalConfig)
    bootstrap: BootstrapConfig = field(default_factory=BootstrapConfig)  # `grpo-rag bootstrap` settings
    rollout: RolloutConfig = field(default_factory=RolloutConfig)  # single-shot or multi-turn search
    routing: RoutingConfig = field(
        default_factory=lambda: RoutingConfig()
    )  # domain router (grpo_rag.routing)
    compare: CompareConfig = field(default_factory=lambda: CompareConfig())  # `grpo-rag compare` settings
    source: str = "<defaults>"

    @property
    def output_dir(self) -> Path:
        return Path(self.training["output_dir"])

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out.pop("source")
        return out


@dataclass
class RoutingConfig:
    """Domain routing before retrieval (`grpo_rag.routing`): which router, how many domains, when to fall back."""

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


# --- loading ---------------------------------------------------------------------------------------
def _one_of(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides (values parsed as YAML) to the raw mapping."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        dotted, text = item.split("=", 1)
        parts = dotted.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override {item!r}: expected section.key=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


def from_dict(raw: dict[str, Any], source: str = "<dict>") -> RunConfig:
    """Validate a raw mapping into a RunConfig; errors are prefixed with `source`."""
    try:
        if not isinstance(raw, dict):
            raise ConfigError("expected a mapping of sections at the top level")
        training = raw.get("training") or {}
        if not isinstance(training, dict):
            raise ConfigError("training: expected a mapping of GRPOConfig fields")
        rest = {k: v for k, v in raw.items() if k != "training"}
        cfg = build(RunConfig, rest, "")
        if not cfg.rewards:
            raise ConfigError("rewards: expected at least one reward")
        cfg.training = check_training(training)
        cfg.source = source
        _check_cross_fields(cfg)
        return cfg
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _check_cross_fields(cfg: RunConfig) -> None:
    """Rules spanning sections, checked once here with what to change."""
    from grpo_rag.rewards import resolve

    for i, spec in enumerate(cfg.rewards):
        try:
            resolve(spec.name)
        except Exception as exc:
            raise ConfigError(f"rewards[{i}].name: {exc}") from None
    for i, spec in enumerate(cfg.rewards):
        if spec.name == "search_budget" and cfg.rollout.mode != "multi_turn":
            raise ConfigError(
                f"rewards[{i}]: search_budget scores search calls; set rollout.mode: multi_turn"
            )
    if cfg.rollout.mode == "multi_turn" and cfg.training.get("max_tool_calling_iterations") is not None:
        raise ConfigError("training.max_tool_calling_iterations: set rollout.max_calls instead")
    if cfg.routing.router is not None and cfg.retrieval.domains:
        raise ConfigError(
            "routing.router: a router picks the domains per question; set retrieval.domains "
            "to null, or routing.router to null to keep the fixed domains"
        )
    if cfg.training.get("reward_weights") is not None:
        raise ConfigError("training.reward_weights: set the weight on each entry of `rewards` instead")


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read a YAML config (safe loader), apply overrides, validate; raises ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return from_dict(apply_overrides(raw, list(overrides or [])), str(path))


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML (what `config.resolved.yaml` holds); loads back to the same config."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


# --- `grpo-rag compare` ------------------------------------------------------------------------------
#: The arms `grpo-rag compare` can run, in report order.
COMPARE_ARMS = ("closed_book_ft", "rag", "raft", "rag_grpo", "hybrid")


@dataclass
class CompareConfig:
    """`grpo-rag compare`: which arms run and the supervised / freshness settings (GRPO uses `training`).

    Arms: closed_book_ft (supervised LoRA, no passages), rag (the untrained model with BM25 passages),
    raft (supervised LoRA on retrieved passages, distractors included), rag_grpo (`grpo-rag train`),
    hybrid (raft's adapter, then GRPO continuing from it).
    """

    arms: list[str] = field(default_factory=lambda: list(COMPARE_ARMS))
    sft_steps: int = 300  # optimizer steps of each supervised arm (closed_book_ft, raft)
    sft_learning_rate: float = 2e-3
    sft_batch_size: int = 16
    shuffle_passages: bool = True  # raft: shuffle passage order per example, so [1] is not a shortcut
    # Change the demo KB (grpo_rag/synth.py: new values for some trained facts, new entities), re-index
    # without retraining and score every arm on the changed facts. Needs demo data; false for other data.
    freshness: bool = True
    updated_facts_per_domain: int = 30  # freshness: training facts that get a new value, per domain
    new_families_per_domain: int = 5  # freshness: new entity families (3 entities each) per domain
    freshness_seed: int = 1

    def __post_init__(self) -> None:
        for arm in self.arms:
            if arm not in COMPARE_ARMS:
                close = difflib.get_close_matches(arm, COMPARE_ARMS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(
                    f"compare.arms: unknown arm '{arm}'{hint}; known: {', '.join(COMPARE_ARMS)}"
                )
        if not self.arms:
            raise ConfigError("compare.arms: expected at least one arm")
        if "hybrid" in self.arms and "raft" not in self.arms:
            raise ConfigError("compare.arms: 'hybrid' continues from the 'raft' adapter; add 'raft'")
        for name in ("sft_steps", "sft_batch_size"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"compare.{name}: expected a positive integer")
        if self.sft_learning_rate <= 0:
            raise ConfigError("compare.sft_learning_rate: expected a positive number")
        if self.updated_facts_per_domain < 0 or self.new_families_per_domain < 0:
            raise ConfigError("compare: updated_facts_per_domain and new_families_per_domain must be >= 0")
