"""`make bench`'s measurements: what to measure (`Plan`), each measurement (`task_*`), and `Runner`, which runs
one in a child process so that its peak RSS is its own. grpo_rag/bench/run.py puts them together into the report.
A child runs `python -m grpo_rag.bench.tasks TASK JSON` and prints its result as one JSON line.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from grpo_rag.bench.bare_trl import peak_rss_mib, rss_mib, step_stats, step_timer

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there

RESULT_PREFIX = "BENCH_RESULT "
#: The embedded model's default size is the demo's (bootstrap defaults); the memory model is ~100M params.
MEMORY_MODEL = {"hidden_size": 768, "num_layers": 12, "num_heads": 12, "intermediate_size": 3072}
TINY_MODEL = {"vocab_size": 400, "hidden_size": 32, "num_layers": 2, "num_heads": 2, "intermediate_size": 64}


@dataclass(frozen=True)
class Plan:
    """How big each measurement is; `QUICK` shrinks everything to a smoke run."""

    synth_passages: int = 1_000_000
    real_limit: int | None = None  # passages of data/real/corpus.jsonl used (None = all)
    queries: int = 1000  # batched queries timed for BM25Retriever, per corpus
    rank_queries_real: int = 100  # rank_bm25 scores every passage per query in Python: a sample
    rank_queries_synth: int = 5
    k: int = 3
    sft_steps: int = 20  # warm start of the timing model (timing needs a model, not a good one)
    model: dict[str, int] = field(default_factory=dict)  # bootstrap overrides; {} = the demo's model
    steps: int = 8  # GRPO steps per overhead run (the first is warm-up and not counted)
    repeats: int = 2  # overhead runs per side, alternating; the fastest of each side is compared
    batch: int = 32  # per_device_train_batch_size (completions per step), as configs/quickstart.yaml
    num_generations: int = 8
    completion_length: int = 16
    memory_model: dict[str, int] = field(default_factory=lambda: dict(MEMORY_MODEL))
    memory_batch: int = 8
    memory_generations: int = 4
    memory_completion_length: int = 16
    groups: tuple[int, ...] = (2, 8, 16)
    lengths: tuple[int, ...] = (16, 64)
    rollout_prompts: int = 4
    isolated: bool = True  # one child process per measurement


QUICK = Plan(
    synth_passages=2000,
    real_limit=400,
    queries=50,
    rank_queries_real=10,
    rank_queries_synth=5,
    sft_steps=1,
    model=dict(TINY_MODEL),
    steps=2,
    repeats=1,
    batch=4,
    num_generations=2,
    completion_length=4,
    memory_model=dict(TINY_MODEL),
    memory_batch=4,
    memory_generations=2,
    memory_completion_length=4,
    groups=(2, 4),
    lengths=(4,),
    rollout_prompts=2,
    isolated=False,
)


# --- measurements (each returns a JSON-able dict; run in a child process unless --quick) -----------------
def task_synth_corpus(p: dict[str, Any]) -> dict[str, Any]:
    """Write a deterministic corpus of `n` passages (Zipf-distributed made-up words) and matching queries."""
    import numpy as np

    rng = np.random.default_rng(p["seed"])
    letters = np.array(list("bcdfghklmnprstvz")), np.array(list("aeiou"))
    vocab = sorted(
        {
            "".join(rng.choice(letters[i % 2]) for i in range(int(rng.integers(4, 10))))
            for _ in range(min(60_000, max(1000, p["n"] // 10)))
        }
    )
    weights = 1.0 / (np.arange(len(vocab)) + 2.7)
    lengths = rng.integers(20, 61, size=p["n"])
    words = rng.choice(len(vocab), size=int(lengths.sum()), p=weights / weights.sum()).astype(np.int32)
    vocab_arr = np.array(vocab, dtype=object)
    ends = np.cumsum(lengths)
    domains = ("alpha", "beta", "gamma", "delta")
    start = time.perf_counter()
    with open(p["corpus"], "w", encoding="utf-8") as f:
        for i, end in enumerate(ends):
            text = " ".join(vocab_arr[words[end - lengths[i] : end]])
            f.write(json.dumps({"id": f"s{i:07d}", "text": text, "domain": domains[i % 4]}) + "\n")
    picks = rng.integers(0, p["n"], size=p["n_queries"])
    queries = []
    for i in picks:
        own = words[ends[i] - lengths[i] : ends[i]]
        queries.append(" ".join(vocab_arr[rng.choice(own, size=5, replace=False)]))
    Path(p["queries"]).write_text(json.dumps(queries))
    return {
        "passages": int(p["n"]),
        "words": int(lengths.sum()),
        "vocabulary": len(vocab),
        "write_seconds": time.perf_counter() - start,
    }


def task_toolkit_retrieval(p: dict[str, Any]) -> dict[str, Any]:
    """BM25Retriever: build (pooled + per-domain), batched retrieval, save; RSS over the loaded corpus."""
    from grpo_rag.data.io import load_corpus
    from grpo_rag.retrieval.bm25 import BM25Retriever

    corpus = load_corpus(p["corpus"])
    queries = json.loads(Path(p["queries"]).read_text())[: p["n_queries"]]
    base = rss_mib()
    start = time.perf_counter()
    retriever = BM25Retriever.build(corpus, backend=p["backend"])
    build = time.perf_counter() - start
    start = time.perf_counter()
    retriever.retrieve(
        queries[:1], k=p["k"]
    )  # numba compiles its kernels on the first call (once per process)
    first_query_s = time.perf_counter() - start
    start = time.perf_counter()
    hits = retriever.retrieve(queries, k=p["k"])
    query_s = time.perf_counter() - start
    peak = peak_rss_mib()
    size = 0.0
    if p.get("save"):
        retriever.save(p["save"])
        size = sum(f.stat().st_size for f in Path(p["save"]).rglob("*") if f.is_file())
    return {
        "backend": retriever.backend,
        "first_query_s": first_query_s,
        "build_s": build,
        "queries": len(queries),
        "query_s": query_s,
        "qps": len(queries) / query_s,
        "hits_per_query": sum(map(len, hits)) / len(hits),
        "peak_rss_mib": peak,
        "rss_over_corpus_mib": peak - base,
        "index_mib_on_disk": size / 2**20,
    }


def task_rank_bm25_retrieval(p: dict[str, Any]) -> dict[str, Any]:
    """rank_bm25 BM25Okapi over the same tokens (grpo_rag's tokenizer), top-k per query by argpartition."""
    import pickle

    import numpy as np
    from rank_bm25 import BM25Okapi

    from grpo_rag.data.io import load_corpus
    from grpo_rag.retrieval.bm25 import _Tokenizer

    corpus = load_corpus(p["corpus"])
    queries = json.loads(Path(p["queries"]).read_text())[: p["n_queries"]]
    docs = [f"{t}\n{x}" if t else x for t, x in zip(corpus["title"], corpus["text"], strict=True)]
    tokenize = _Tokenizer("english", "en")
    base = rss_mib()
    start = time.perf_counter()
    index = BM25Okapi(tokenize(docs))
    build = time.perf_counter() - start
    del docs
    start = time.perf_counter()
    k = p["k"]
    for tokens in tokenize(queries):
        scores = index.get_scores(tokens)
        top = np.argpartition(-scores, k)[:k]
        top[np.argsort(-scores[top])]
    query_s = time.perf_counter() - start
    out = {
        "build_s": build,
        "queries": len(queries),
        "query_s": query_s,
        "qps": len(queries) / query_s,
        "peak_rss_mib": peak_rss_mib(),
        "rss_over_corpus_mib": peak_rss_mib() - base,
    }
    if p.get("save"):
        with open(p["save"], "wb") as f:
            pickle.dump(index, f, protocol=pickle.HIGHEST_PROTOCOL)
        out["index_mib_on_disk"] = os.path.getsize(p["save"]) / 2**20
    return out


def task_index_load(p: dict[str, Any]) -> dict[str, Any]:
    """Load a saved index (grpo_rag: mmap or not; rank_bm25: pickle) and answer one query."""
    base = rss_mib()
    start = time.perf_counter()
    if p["kind"] == "pickle":
        import pickle

        with open(p["path"], "rb") as f:
            index = pickle.load(f)
        load_s = time.perf_counter() - start
        index.get_scores(["probe"])
    else:
        from grpo_rag.retrieval.bm25 import BM25Retriever

        retriever = BM25Retriever.load(p["path"], mmap=p["kind"] == "mmap")
        load_s = time.perf_counter() - start
        retriever.retrieve(json.loads(Path(p["queries"]).read_text())[:1], k=3)
    return {"load_s": load_s, "rss_added_mib": rss_mib() - base}


def task_bootstrap(p: dict[str, Any]) -> dict[str, Any]:
    """The timing model: grpo_rag bootstrap (tokenizer + Llama + short SFT) on the demo data."""
    from grpo_rag.demo.bootstrap import bootstrap
    from grpo_rag.sections import from_dict

    info = bootstrap(from_dict(p["raw"]), force=True)
    return {"parameters": info["parameters"], "seconds": info["seconds"]}


def task_memory_model(p: dict[str, Any]) -> dict[str, Any]:
    """A randomly initialised ~100M-parameter Llama with the timing model's tokenizer, saved to a folder."""
    from transformers import AutoTokenizer

    from grpo_rag.demo.bootstrap import BootstrapConfig, build_model

    tok = AutoTokenizer.from_pretrained(p["tokenizer"])
    model = build_model(tok, BootstrapConfig(**p["sizes"]))
    model.save_pretrained(p["out"])
    tok.save_pretrained(p["out"])
    return {"parameters": sum(x.numel() for x in model.parameters())}


def task_toolkit_train(p: dict[str, Any]) -> dict[str, Any]:
    """The toolkit's train() on a config; s/step from its own timing of trainer.train()."""
    import datasets  # noqa: F401  (library code imported before the baseline RSS)
    import peft  # noqa: F401
    import trl  # noqa: F401

    import grpo_rag.training.grpo as toolkit
    from grpo_rag.sections import from_dict

    # Instrumentation only: the same step timer as the bare script, attached to the trainer train() builds.
    timer, build = step_timer(), toolkit.build_trainer

    def timed_build(cfg: Any, **kw: Any) -> Any:
        trainer, checkpoint = build(cfg, **kw)
        trainer.add_callback(timer)
        return trainer, checkpoint

    toolkit.build_trainer = timed_build
    base = rss_mib()
    start = time.perf_counter()
    try:
        summary = toolkit.train(from_dict(p["raw"]), overwrite=True)
    finally:
        toolkit.build_trainer = build
    wall = time.perf_counter() - start
    return {
        "steps": summary["steps"],
        "train_seconds": summary["train_seconds"],
        "s_per_step": summary["train_seconds"] / summary["steps"],
        "setup_seconds": wall - summary["train_seconds"],
        "trainable_params": summary["trainable_params"],
        "total_params": summary["total_params"],
        "rss_start_mib": base,
        "peak_rss_mib": peak_rss_mib(),
        **step_stats(timer.times),
    }


def task_bare_train(p: dict[str, Any]) -> dict[str, Any]:
    """grpo_rag/bench/bare_trl.py with the given arguments."""
    from grpo_rag.bench import bare_trl

    return bare_trl.main(p["argv"])


def task_rollouts(p: dict[str, Any]) -> dict[str, Any]:
    """Sampled tokens/s of `generate` (what TRL's GRPOTrainer calls without vLLM) per group size x length."""
    import torch
    from datasets import load_from_disk
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(0)
    tok = AutoTokenizer.from_pretrained(p["model"], padding_side="left")
    tok.pad_token = tok.pad_token or tok.eos_token
    model = AutoModelForCausalLM.from_pretrained(p["model"]).eval()
    prompts = load_from_disk(p["data"])["prompt"][: p["prompts"]]
    inputs = tok(prompts, return_tensors="pt", padding=True)
    rows = []
    with torch.inference_mode():
        model.generate(**inputs, do_sample=True, max_new_tokens=2, pad_token_id=tok.pad_token_id)  # warm-up
        for length in p["lengths"]:
            for group in p["groups"]:
                start = time.perf_counter()
                out = model.generate(
                    **inputs,
                    do_sample=True,
                    temperature=1.0,
                    num_return_sequences=group,
                    max_new_tokens=length,
                    min_new_tokens=length,
                    pad_token_id=tok.pad_token_id,
                )
                seconds = time.perf_counter() - start
                tokens = (out.shape[1] - inputs["input_ids"].shape[1]) * out.shape[0]
                rows.append(
                    {
                        "group": group,
                        "length": length,
                        "sequences": out.shape[0],
                        "tokens": tokens,
                        "seconds": seconds,
                        "tokens_per_s": tokens / seconds,
                    }
                )
    return {
        "prompt_tokens": int(inputs["input_ids"].shape[1]),
        "prompts": len(prompts),
        "parameters": sum(x.numel() for x in model.parameters()),
        "rows": rows,
    }


TASKS = {name[5:]: fn for name, fn in dict(globals()).items() if name.startswith("task_")}


class Runner:
    """Runs a task in a child process (its own peak RSS) or in-process; logs child output to a file."""

    def __init__(self, isolated: bool, log: Path):
        self.isolated, self.log = isolated, log

    def __call__(self, name: str, **params: Any) -> dict[str, Any]:
        print(
            f"[bench] {name} {json.dumps({k: v for k, v in params.items() if k != 'raw'})[:150]}", flush=True
        )
        if not self.isolated:
            return TASKS[name](params)
        with self.log.open("a") as log:
            proc = subprocess.run(
                [sys.executable, "-m", "grpo_rag.bench.tasks", name, json.dumps(params)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=REPO,
            )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"bench task {name} failed (exit {proc.returncode}); see {self.log}")
        return json.loads(lines[-1][len(RESULT_PREFIX) :])


if __name__ == "__main__":
    task, params = sys.argv[1], json.loads(sys.argv[2])
    print(RESULT_PREFIX + json.dumps(TASKS[task](params)), flush=True)
