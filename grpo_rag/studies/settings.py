"""The `compare` config section: which arms `grpo-rag compare` runs, with supervised and freshness settings.

Torch-free, so that loading a config stays light; the CLI registers the section.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from grpo_rag.errors import ConfigError
from grpo_rag.evaluation.paired import DEFAULT_SAMPLES

SECTION = "compare"

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
    # demo: change the demo KB (needs `grpo-rag demo-data` data) | documents: hold the gold passages of
    # `fresh_questions` held-out questions out of the corpus while training, add them back for evaluation.
    freshness_kind: str = "demo"
    fresh_questions: int = 100  # documents: held-out questions whose passages arrive after training
    updated_facts_per_domain: int = 30  # freshness: training facts that get a new value, per domain
    new_families_per_domain: int = 5  # freshness: new entity families (3 entities each) per domain
    freshness_seed: int = 1
    # strict: EM / F1 need the <answer> tags | lenient: an untagged answer is read too (the fair measure of a
    # prompted model that writes sentences; evaluation's lenient_exact_match / lenient_f1)
    score: str = "strict"
    # paired-bootstrap resamples for the 95% intervals of differences (0: no intervals)
    bootstrap_samples: int = DEFAULT_SAMPLES

    def __post_init__(self) -> None:
        for arm in self.arms:
            if arm not in COMPARE_ARMS:
                close = difflib.get_close_matches(arm, COMPARE_ARMS, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(
                    f"compare.arms: unknown arm '{arm}'{hint}; known: {', '.join(COMPARE_ARMS)}"
                )
        if self.freshness_kind not in ("demo", "documents"):
            raise ConfigError(
                f"compare.freshness_kind: expected demo or documents, got {self.freshness_kind!r}"
            )
        if self.score not in ("strict", "lenient"):
            raise ConfigError(f"compare.score: expected strict or lenient, got {self.score!r}")
        if self.bootstrap_samples < 0:
            raise ConfigError("compare.bootstrap_samples: expected a non-negative integer (0: no intervals)")
        if self.fresh_questions <= 0:
            raise ConfigError("compare.fresh_questions: expected a positive integer")
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
