"""grpo-rag: train language models to answer from retrieved passages (BM25 + GRPO + LoRA)."""

__version__ = "0.1.0"
