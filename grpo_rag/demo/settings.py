"""The `bootstrap` config section: size and warm start of the embedded demo model (`grpo-rag bootstrap`).

Kept apart from `bootstrap.py` so that loading a config needs no torch; the CLI registers the section.
"""

from __future__ import annotations

from dataclasses import dataclass

from grpo_rag.errors import ConfigError

SECTION = "bootstrap"


@dataclass
class BootstrapConfig:
    """Size and warm-start schedule of the embedded model; defaults fit the demo on 2 CPU cores."""

    vocab_size: int = 512  # BPE vocabulary incl. special tokens; small, so names split into frequent pieces
    hidden_size: int = 192
    num_layers: int = 4
    num_heads: int = 6
    intermediate_size: int = 512
    max_position: int = 512  # longest prompt + completion, in tokens
    sft_steps: int = 900  # supervised warm-start steps (0 = untrained weights)
    sft_batch_size: int = 16
    sft_learning_rate: float = 3e-3
    # Also learn to predict the prompt: a denser signal for a fresh model, but it learns the training
    # passages' facts by heart, which can win over copying (the quickstart turns it off; README).
    sft_full_sequence_loss: bool = True
    shuffle_passages: bool = False  # warm up on shuffled passage orders, so rank 1 is not a shortcut
    counterfactual_fraction: float = (
        0.7  # share of QA examples whose gold value is swapped (`counterfactual`)
    )
    counterfactual_values: str = (
        "novel"  # novel: random edits of the value | pool: a same-shape answer (augment.py)
    )
    copy_fraction: float = 0.3  # share of warm-up examples that repeat a passage block verbatim (copy drills)
    search_fraction: float = (
        0.5  # rollout.mode multi_turn: share of QA examples that are search conversations
    )
    seed: int = 0

    def __post_init__(self) -> None:
        if self.counterfactual_values not in ("novel", "pool"):
            raise ConfigError(
                f"bootstrap.counterfactual_values: expected novel or pool, got {self.counterfactual_values!r}"
            )
        for name in ("counterfactual_fraction", "copy_fraction"):
            if not 0.0 <= getattr(self, name) <= (0.99 if name == "copy_fraction" else 1.0):
                raise ConfigError(f"bootstrap.{name}: expected a share in [0, 1), got {getattr(self, name)}")
