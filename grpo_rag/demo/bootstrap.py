"""Build the embedded default model offline: a BPE tokenizer and a small Llama, warm-started on the format.

No machine here can download weights, so the toolkit makes its own: a byte-level BPE tokenizer trained on
the corpus and questions, a Llama-architecture model of a few million parameters, and a short supervised
stage (TRL's SFTTrainer) on prompts with retrieved passages and gold `<answer>..</answer> [n]` targets.
The result is a normal Hugging Face model directory. Seeded: the same inputs give the same model.
"""

from __future__ import annotations

import json
import os
import random
import re
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from datasets import Dataset, concatenate_datasets
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

from grpo_rag.demo.settings import SECTION, BootstrapConfig
from grpo_rag.demo.twohop import gold_queries
from grpo_rag.pipeline.augment import ValueSource, counterfactual
from grpo_rag.pipeline.prepare import PromptOptions, gold_completion, shuffled_passages
from grpo_rag.prompts.templates import (
    ABSTAIN_ANSWER,
    ANSWER_CLOSE,
    ANSWER_OPEN,
    CLOSED_BOOK_INSTRUCTIONS,
    INSTRUCTIONS,
    SEARCH_INSTRUCTIONS,
    build_search_prompt,
    format_target,
)
from grpo_rag.prompts.tool_format import RESULTS_HEADER, SEARCH_CLOSE, SEARCH_OPEN, install_tool_template
from grpo_rag.rollout.search import SearchEnvironment, SearchOptions, gold_citations, search_turn

if TYPE_CHECKING:
    from grpo_rag.config import RunConfig
    from grpo_rag.retrieval.bm25 import BM25Retriever

BOS, EOS, PAD = "<s>", "</s>", "<pad>"


def train_tokenizer(texts: list[str], vocab_size: int, search: bool = False) -> PreTrainedTokenizerFast:
    """Train a byte-level BPE tokenizer with `<s>`, `</s>`, `<pad>` and the answer tags as single tokens.

    With `search` (rollout.mode multi_turn) the search tags are single tokens too and the tokenizer gets the
    toolkit's tool-call chat template; without it the tokenizer is exactly what single-shot runs always got.
    """
    tok = Tokenizer(models.BPE())
    # A prefix space makes a word right after an answer tag tokenize as it does mid-sentence in a
    # passage, so copying an answer out of a passage is an identity map on token ids.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[PAD, BOS, EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer=trainer)
    tok.post_processor = processors.TemplateProcessing(
        single=f"{BOS} $A", pair=f"{BOS} $A $B", special_tokens=[(BOS, tok.token_to_id(BOS))]
    )
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD)
    fast.add_tokens([ANSWER_OPEN, ANSWER_CLOSE])  # not special: they must survive decoding
    if search:
        # The tool-call template, so the embedded model runs TRL's multi-turn loop like a chat model (see
        # grpo_rag/tool_format.py); it renders single-turn prompts exactly as the plain prompt, token for token.
        fast.add_tokens([SEARCH_OPEN, SEARCH_CLOSE])
        install_tool_template(fast)
    return fast


def build_model(tokenizer: PreTrainedTokenizerFast, cfg: BootstrapConfig) -> LlamaForCausalLM:
    """A freshly initialised, seeded Llama sized by `cfg`."""
    torch.manual_seed(cfg.seed)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=cfg.hidden_size,
        intermediate_size=cfg.intermediate_size,
        num_hidden_layers=cfg.num_layers,
        num_attention_heads=cfg.num_heads,
        num_key_value_heads=cfg.num_heads,
        max_position_embeddings=cfg.max_position,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    return LlamaForCausalLM(config)


def tokenizer_texts(corpus: Dataset, qa: Dataset, options: PromptOptions | None = None) -> list[str]:
    """What the tokenizer learns from: passages, titles, questions, answers and the fixed prompt text."""
    options = options or PromptOptions()
    texts = list(corpus["text"]) + list(corpus["title"]) + list(qa["question"])
    texts += [a for answers in qa["answers"] for a in answers]
    fixed = [
        INSTRUCTIONS if options.instructions is None else options.instructions,
        CLOSED_BOOK_INSTRUCTIONS
        if options.closed_book_instructions is None
        else options.closed_book_instructions,
        f"Question: Answer: {ABSTAIN_ANSWER} [1] [2] [3]",
    ]
    return texts + fixed * 50


def sft_examples(
    prepared: Dataset, cfg: BootstrapConfig, epochs: int, options: PromptOptions | None = None
) -> Dataset:
    """Prompt/completion pairs for the warm start, with passages reshuffled per epoch when configured."""
    rng = random.Random(cfg.seed)
    prompts: list[str] = []
    completions: list[str] = []
    source = ValueSource(prepared, cfg.counterfactual_values, rng)
    for _ in range(epochs):
        for row in prepared:
            if row["answers"] and rng.random() < cfg.counterfactual_fraction:
                value = source.draw(row["answers"][0], row.get("domain", ""))
                row = counterfactual(row, value, options)
            if cfg.shuffle_passages:
                row = shuffled_passages(row, rng, options)
            prompts.append(row["prompt"])
            completions.append(
                gold_completion(row["answers"], row["passage_ids"], row["gold_ids"], row["answerable"])
            )
    # Copy drills: a block of passages followed by the same block. Entity names are random, so the
    # second copy is only predictable by looking back at the first; this trains the attention pattern
    # ("find the earlier occurrence, emit what followed it") that reading an answer out of a passage needs.
    n_copy = int(len(prompts) * cfg.copy_fraction / max(1e-9, 1.0 - cfg.copy_fraction))
    for _ in range(n_copy):
        block = " ".join(prepared[rng.randrange(len(prepared))]["passages"][0] for _ in range(4))
        prompts.append(block)
        completions.append(" " + block)
    return Dataset.from_dict({"prompt": prompts, "completion": completions}).shuffle(seed=cfg.seed)


def search_conversations(
    qa: Dataset,
    retriever: BM25Retriever,
    settings: SearchOptions,
    tokenizer: PreTrainedTokenizerFast,
    corpus_by_id: dict[str, str],
    cfg: BootstrapConfig,
    epochs: int,
) -> tuple[list[str], list[str]]:
    """Prompt/completion texts of gold multi-turn rollouts: the gold search queries, their real results, then
    the answer citing the gold passages, rendered by the same template the tool loop uses.

    Counterfactual copies (`counterfactual_fraction`) swap the bridge entity and the answer for other names
    throughout the conversation, so the warm start learns to copy them out of results rather than recall them.
    """
    rng = random.Random(cfg.seed + 1)
    env = SearchEnvironment(retriever, settings)
    pool = [a[0] for a in qa["answers"] if a]
    words = sorted({w for t in corpus_by_id.values() for w in t.split() if "-" in w and w[-1].isdigit()})
    prompts: list[str] = []
    completions: list[str] = []
    for _ in range(epochs):
        for row in qa:
            if not row["answers"] or rng.random() >= cfg.search_fraction:
                continue
            env.reset(**row)
            messages: list[dict[str, Any]] = build_search_prompt(row["question"])
            prompt = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            for query in gold_queries(row, corpus_by_id)[: settings.max_calls]:
                messages += search_turn(env, query)
            cites = gold_citations(env, row["gold_ids"])
            messages.append({"role": "assistant", "content": format_target(row["answers"][0], cites)})
            full = tokenizer.apply_chat_template(messages, tokenize=False)
            completion = full[len(prompt) :]
            if pool and rng.random() < cfg.counterfactual_fraction:
                completion = _swap_word(completion, row["answers"][0], rng.choice(pool))
                bridge = [w.rstrip(".") for w in completion.split() if w.rstrip(".") in words]
                if bridge and words:
                    completion = _swap_word(completion, bridge[0], rng.choice(words))
            prompts.append(prompt.removeprefix(tokenizer.bos_token or ""))
            completions.append(completion)
    return prompts, completions


def _swap_word(text: str, old: str, new: str) -> str:
    return re.sub(rf"(?<!\w){re.escape(old)}(?!\w)", lambda _: new, text)


def warm_start(
    model: LlamaForCausalLM,
    tokenizer: PreTrainedTokenizerFast,
    prepared: Dataset,
    cfg: BootstrapConfig,
    work_dir: Path,
    options: PromptOptions | None = None,
    search: Callable[[int], tuple[list[str], list[str]]] | None = None,
) -> list[dict[str, Any]]:
    """Supervised warm start with TRL's SFTTrainer; returns its log history.

    `search(epochs)`, when given, returns extra prompt/completion texts (multi-turn search conversations).
    """
    from trl import SFTConfig, SFTTrainer

    from grpo_rag.training.modeling import score_completions_only_on_cpu

    if cfg.sft_steps <= 0:
        return []
    # The same loss path whether or not a trainer ran earlier in this process (the patch is process-wide),
    # so that a bootstrap gives the same weights every time.
    score_completions_only_on_cpu()
    epochs = max(1, -(-cfg.sft_steps * cfg.sft_batch_size // max(1, len(prepared))))
    args = SFTConfig(
        output_dir=str(work_dir),
        max_steps=cfg.sft_steps,
        per_device_train_batch_size=cfg.sft_batch_size,
        learning_rate=cfg.sft_learning_rate,
        lr_scheduler_type="cosine",
        warmup_steps=max(1, cfg.sft_steps // 20),
        weight_decay=0.0,
        logging_steps=max(1, cfg.sft_steps // 10),
        save_strategy="no",
        report_to="none",
        seed=cfg.seed,
        max_length=cfg.max_position,
        completion_only_loss=not cfg.sft_full_sequence_loss,
        use_cpu=not torch.cuda.is_available(),
        dataloader_num_workers=0,
    )
    examples = sft_examples(prepared, cfg, epochs, options)
    if search is not None:  # multi-turn warm start: gold search conversations mixed in
        prompts, completions = search(epochs)
        examples = concatenate_datasets(
            [examples, Dataset.from_dict({"prompt": prompts, "completion": completions})]
        ).shuffle(seed=cfg.seed)
    trainer = SFTTrainer(model=model, args=args, train_dataset=examples, processing_class=tokenizer)
    trainer.train()
    return list(trainer.state.log_history)


def save_model(
    model: LlamaForCausalLM, tokenizer: PreTrainedTokenizerFast, out_dir: Path, info: dict[str, Any]
) -> None:
    """Write model, tokenizer and `bootstrap.json` into a temp folder, then rename it into place."""
    out_dir = Path(out_dir)
    tmp = out_dir.with_name(f".{out_dir.name}.tmp-{os.getpid()}")
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    (tmp / "bootstrap.json").write_text(json.dumps(info, indent=2) + "\n")
    if out_dir.exists():
        old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
        out_dir.rename(old)
        tmp.rename(out_dir)
        import shutil

        shutil.rmtree(old)
    else:
        out_dir.parent.mkdir(parents=True, exist_ok=True)
        tmp.rename(out_dir)


def bootstrap_config_dict(cfg: BootstrapConfig) -> dict[str, Any]:
    return asdict(cfg)


def bootstrap(run: RunConfig, out_dir: str | None = None, force: bool = False) -> dict[str, Any]:
    """Build the embedded model named by `run.model.name_or_path` (or `out_dir`) from the run's data."""
    import time

    from grpo_rag.data.io import load_corpus
    from grpo_rag.errors import ConfigError
    from grpo_rag.pipeline.prepare import load_retriever, prepare_split, prompt_options
    from grpo_rag.rollout.search import search_options

    target = Path(out_dir or run.model.name_or_path)
    if (target / "config.json").is_file() and not force:
        raise ConfigError(f"{target} already holds a model; pass --force to rebuild it")
    cfg = run.section(SECTION, BootstrapConfig)
    start = time.time()
    torch.manual_seed(cfg.seed)
    corpus = load_corpus(run.data.corpus)
    # Same retrieval and prompts as training (BM25 order, k and instructions from the config), no cache.
    options = prompt_options(run, chat=False)
    prepared = prepare_split(run, run.data.train, options, None)
    multi_turn = run.rollout.mode == "multi_turn"
    texts = tokenizer_texts(corpus, prepared, options)
    if multi_turn:
        texts += [SEARCH_INSTRUCTIONS, f"{RESULTS_HEADER} [4] [5] [6]"] * 50
    tokenizer = train_tokenizer(texts, cfg.vocab_size, search=multi_turn)
    model = build_model(tokenizer, cfg)
    search = None
    if multi_turn:
        retriever = load_retriever(run, corpus)
        by_id = dict(zip(corpus["id"], corpus["text"], strict=True))

        def search(epochs: int) -> tuple[list[str], list[str]]:
            return search_conversations(
                prepared, retriever, search_options(run), tokenizer, by_id, cfg, epochs
            )

    work = target.with_name(f".{target.name}.work")
    history = warm_start(model, tokenizer, prepared, cfg, work, options, search)
    info = {
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tokenizer),
        "seconds": round(time.time() - start, 1),
        "final_loss": next((h["loss"] for h in reversed(history) if "loss" in h), None),
        "config": asdict(cfg),
        "data": {"corpus": run.data.corpus, "train": run.data.train},
    }
    save_model(model, tokenizer, target, info)
    import shutil

    shutil.rmtree(target.with_name(f".{target.name}.work"), ignore_errors=True)
    return {"model": str(target), **info}
