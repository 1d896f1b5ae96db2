"""Measure grpo-rag's speed and memory side by side with the usual alternatives -> bench/results.{md,json}.

Sections (all from one run, on one machine):
- retrieval: grpo_rag's BM25Retriever vs rank_bm25's BM25Okapi on data/real and on a generated
  1,000,000-passage corpus: build time, batched queries/s, peak memory, load time of a saved index;
- overhead: seconds per GRPO step of the toolkit's train() vs a bare TRL script (scripts/bench_bare_trl.py)
  with the same model, data, prompts, generation length, LoRA settings and reward functions;
- memory: peak memory of a GRPO step with LoRA vs full fine-tuning on a ~100M-parameter Llama, with and
  without a PPO-style critic of the policy's size; trainable parameter share;
- throughput: generated tokens/s in rollouts vs group size and completion length.
Each measurement runs in its own child process so that its peak RSS is its own; `--quick` (a smoke run
on tiny inputs, used by tests/test_bench.py) runs them in-process, so its memory figures mean little.
Usage: python scripts/bench.py [--quick] [--out bench] [--only retrieval,overhead,memory,throughput]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from bench_bare_trl import peak_rss_mib, rss_mib, step_stats, step_timer  # noqa: E402

from grpo_rag.retrieval import NUMBA_MIN_PASSAGES, numba_available  # noqa: E402

SECTIONS = ("retrieval", "overhead", "memory", "throughput")
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
    from grpo_rag.data import load_corpus
    from grpo_rag.retrieval import BM25Retriever

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

    from grpo_rag.data import load_corpus
    from grpo_rag.retrieval import _Tokenizer

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
        from grpo_rag.retrieval import BM25Retriever

        retriever = BM25Retriever.load(p["path"], mmap=p["kind"] == "mmap")
        load_s = time.perf_counter() - start
        retriever.retrieve(json.loads(Path(p["queries"]).read_text())[:1], k=3)
    return {"load_s": load_s, "rss_added_mib": rss_mib() - base}


def task_bootstrap(p: dict[str, Any]) -> dict[str, Any]:
    """The timing model: grpo_rag bootstrap (tokenizer + Llama + short SFT) on the demo data."""
    from grpo_rag.bootstrap import bootstrap
    from grpo_rag.config import from_dict

    info = bootstrap(from_dict(p["raw"]), force=True)
    return {"parameters": info["parameters"], "seconds": info["seconds"]}


def task_memory_model(p: dict[str, Any]) -> dict[str, Any]:
    """A randomly initialised ~100M-parameter Llama with the timing model's tokenizer, saved to a folder."""
    from transformers import AutoTokenizer

    from grpo_rag.bootstrap import BootstrapConfig, build_model

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

    import grpo_rag.train as toolkit
    from grpo_rag.config import from_dict

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
    """scripts/bench_bare_trl.py with the given arguments."""
    import bench_bare_trl

    return bench_bare_trl.main(p["argv"])


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
                [sys.executable, __file__, "--child", name, json.dumps(params)],
                stdout=subprocess.PIPE,
                stderr=log,
                text=True,
                cwd=REPO,
            )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_PREFIX)]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"bench task {name} failed (exit {proc.returncode}); see {self.log}")
        return json.loads(lines[-1][len(RESULT_PREFIX) :])


# --- sections --------------------------------------------------------------------------------------------
def real_inputs(work: Path, plan: Plan) -> tuple[Path, Path]:
    """data/real's corpus (or its first `real_limit` passages) and its held-out questions as a JSON list."""
    corpus = REPO / "data/real/corpus.jsonl"
    if plan.real_limit is not None:
        lines = corpus.read_text(encoding="utf-8").splitlines(keepends=True)[: plan.real_limit]
        corpus = work / "real-corpus.jsonl"
        corpus.write_text("".join(lines), encoding="utf-8")
    questions = [json.loads(line)["question"] for line in (REPO / "data/real/heldout.jsonl").open()]
    queries = work / "real-queries.json"
    queries.write_text(json.dumps(questions))
    return corpus, queries


def bench_retrieval(run: Runner, work: Path, plan: Plan) -> dict[str, Any]:
    out: dict[str, Any] = {}
    real, real_q = real_inputs(work, plan)
    synth, synth_q = work / "synth-corpus.jsonl", work / "synth-queries.json"
    out["synthetic_corpus"] = run(
        "synth_corpus",
        corpus=str(synth),
        queries=str(synth_q),
        n=plan.synth_passages,
        n_queries=plan.queries,
        seed=0,
    )
    for label, corpus, queries, rank_n in (
        ("real", real, real_q, plan.rank_queries_real),
        ("synthetic", synth, synth_q, plan.rank_queries_synth),
    ):
        index_dir = work / f"index-{label}"
        pickle_path = work / f"rank_bm25-{label}.pkl" if label == "real" else None
        ours = run(
            "toolkit_retrieval",
            corpus=str(corpus),
            queries=str(queries),
            n_queries=plan.queries,
            k=plan.k,
            save=str(index_dir),
            backend="numpy",
        )
        jit = None
        if numba_available():
            jit = run(
                "toolkit_retrieval",
                corpus=str(corpus),
                queries=str(queries),
                n_queries=plan.queries,
                k=plan.k,
                backend="numba",
            )
        theirs = run(
            "rank_bm25_retrieval",
            corpus=str(corpus),
            queries=str(queries),
            n_queries=rank_n,
            k=plan.k,
            save=str(pickle_path) if pickle_path else None,
        )
        ours["load_mmap"] = run("index_load", kind="mmap", path=str(index_dir), queries=str(queries))
        ours["load_in_memory"] = run("index_load", kind="memory", path=str(index_dir), queries=str(queries))
        if pickle_path:
            theirs["load_pickle"] = run(
                "index_load", kind="pickle", path=str(pickle_path), queries=str(queries)
            )
        out[label] = {
            "passages": len(corpus.read_text(encoding="utf-8").splitlines()),
            "grpo_rag": ours,
            "grpo_rag_numba": jit,
            "rank_bm25": theirs,
            "qps_ratio": ours["qps"] / theirs["qps"],
            "qps_ratio_numba": jit["qps"] / theirs["qps"] if jit else None,
            "build_ratio": theirs["build_s"] / ours["build_s"],
            "memory_ratio": theirs["rss_over_corpus_mib"] / max(ours["rss_over_corpus_mib"], 1e-9),
        }
        shutil.rmtree(index_dir, ignore_errors=True)
        if pickle_path:
            pickle_path.unlink(missing_ok=True)
    synth.unlink(missing_ok=True)
    return out


def timing_config(work: Path, plan: Plan, model: Path, out: Path) -> dict[str, Any]:
    """The raw run config for the overhead runs: the quickstart's settings on the demo data."""
    return {
        "model": {"name_or_path": str(model)},
        "lora": {"r": 16, "alpha": 32},
        "data": {
            "corpus": str(REPO / "data/demo/corpus.jsonl"),
            "train": str(REPO / "data/demo/train.jsonl"),
            "eval": str(REPO / "data/demo/heldout.jsonl"),
        },
        "retrieval": {"k": 3},
        "rewards": [
            {"name": "exact_match", "weight": 1.0},
            {"name": "f1", "weight": 1.0},
            {"name": "grounded", "weight": 0.5},
            {"name": "format", "weight": 0.2},
        ],
        "bootstrap": {**plan.model, "sft_steps": plan.sft_steps},
        "training": {
            "output_dir": str(out),
            "learning_rate": 2e-3,
            "per_device_train_batch_size": plan.batch,
            "num_generations": plan.num_generations,
            "max_completion_length": plan.completion_length,
            "temperature": 1.0,
            "max_steps": plan.steps,
            "logging_steps": 5,
            "save_strategy": "no",
            "beta": 0.04,
            "seed": 0,
        },
    }


def bare_argv(
    model: Path,
    data: Path,
    out: Path,
    plan: Plan,
    steps: int,
    batch: int,
    gens: int,
    length: int,
    *extra: str,
) -> list[str]:
    return [
        "--model",
        str(model),
        "--data",
        str(data),
        "--out",
        str(out),
        "--steps",
        str(steps),
        "--batch",
        str(batch),
        "--num-generations",
        str(gens),
        "--max-completion-length",
        str(length),
        "--lr",
        "2e-3",
        "--beta",
        "0.04",
        "--logging-steps",
        "5",
        "--lora-r",
        "16",
        "--lora-alpha",
        "32",
        *extra,
    ]


def bench_overhead(run: Runner, work: Path, plan: Plan, model: Path) -> dict[str, Any]:
    toolkit_runs, bare_runs = [], []
    data = work / "toolkit-run" / "prepared-train" / "data"
    for _ in range(plan.repeats):
        raw = timing_config(work, plan, model, work / "toolkit-run")
        toolkit_runs.append(run("toolkit_train", raw=raw))
        bare_runs.append(
            run(
                "bare_train",
                argv=bare_argv(
                    model,
                    data,
                    work / "bare-run",
                    plan,
                    plan.steps,
                    plan.batch,
                    plan.num_generations,
                    plan.completion_length,
                ),
            )
        )
    best_toolkit = min(r["median_step_s"] for r in toolkit_runs)
    best_bare = min(r["median_step_s"] for r in bare_runs)
    return {
        "settings": {
            "steps": plan.steps,
            "batch": plan.batch,
            "num_generations": plan.num_generations,
            "max_completion_length": plan.completion_length,
            "lora_r": 16,
            "beta": 0.04,
        },
        "grpo_rag": toolkit_runs,
        "bare_trl": bare_runs,
        "grpo_rag_s_per_step": best_toolkit,
        "bare_trl_s_per_step": best_bare,
        "ratio": best_toolkit / best_bare,
    }


def bench_memory(run: Runner, work: Path, plan: Plan, model: Path, data: Path) -> dict[str, Any]:
    big = work / "memory-model"
    info = run("memory_model", tokenizer=str(model), out=str(big), sizes=plan.memory_model)
    # Critic batch: every completion of the step at prompt + completion length (what PPO's value loss sees).
    seq = 240 + plan.memory_completion_length
    cells = {}
    for name, extra in (
        ("lora", []),
        ("full", ["--full-finetune"]),
        ("lora_critic", ["--critic"]),
        ("full_critic", ["--full-finetune", "--critic"]),
    ):
        extra = [*extra, "--critic-seq-len", str(seq)] if "--critic" in extra else extra
        r = run(
            "bare_train",
            argv=bare_argv(
                big,
                data,
                work / f"mem-{name}",
                plan,
                1,
                plan.memory_batch,
                plan.memory_generations,
                plan.memory_completion_length,
                *extra,
            ),
        )
        r["step_mib"] = r["peak_rss_mib"] - r["rss_start_mib"]
        cells[name] = r
    shutil.rmtree(big, ignore_errors=True)
    lora, full = cells["lora"], cells["full"]
    return {
        "parameters": info["parameters"],
        "model": plan.memory_model,
        "batch": plan.memory_batch,
        "num_generations": plan.memory_generations,
        "max_completion_length": plan.memory_completion_length,
        "critic_seq_len": seq,
        "cells": cells,
        "trainable_share_lora": lora["trainable_params"] / lora["total_params"],
        "lora_over_full": lora["step_mib"] / full["step_mib"],
        "grpo_over_ppo_full": full["step_mib"] / cells["full_critic"]["step_mib"],
        "grpo_over_ppo_lora": lora["step_mib"] / cells["lora_critic"]["step_mib"],
    }


def bench_throughput(run: Runner, work: Path, plan: Plan, model: Path, data: Path) -> dict[str, Any]:
    big = work / "memory-model"
    out = {
        "timing_model": run(
            "rollouts",
            model=str(model),
            data=str(data),
            prompts=plan.rollout_prompts,
            groups=list(plan.groups),
            lengths=list(plan.lengths),
        )
    }
    run("memory_model", tokenizer=str(model), out=str(big), sizes=plan.memory_model)
    out["memory_model"] = run(
        "rollouts",
        model=str(big),
        data=str(data),
        prompts=plan.rollout_prompts,
        groups=list(plan.groups),
        lengths=list(plan.lengths),
    )
    shutil.rmtree(big, ignore_errors=True)
    return out


# --- report ----------------------------------------------------------------------------------------------
def auto_side(x: dict[str, Any]) -> dict[str, Any]:
    """The figures of the backend `retrieval.backend: auto` picks for this corpus (numba only when large)."""
    jit = x.get("grpo_rag_numba")
    return jit if jit and x["passages"] >= NUMBA_MIN_PASSAGES else x["grpo_rag"]


def goals(res: dict[str, Any]) -> list[dict[str, Any]]:
    """The issue's targets checked against the measured figures (only sections that ran)."""
    out = []
    ret, ovh = res.get("retrieval"), res.get("overhead")
    if ret:
        for label in ("real", "synthetic"):
            for backend, key in (("numpy", "qps_ratio"), ("numba", "qps_ratio_numba")):
                if ret[label].get(key) is not None:
                    out.append(
                        {
                            "goal": f"retrieval queries/s >= 50x rank_bm25 ({label}, backend {backend})",
                            "value": ret[label][key],
                            "met": ret[label][key] >= 50,
                        }
                    )
    if ret and ovh:
        per_step = ovh["settings"]["batch"] // ovh["settings"]["num_generations"]
        for label in ("real", "synthetic"):
            share = per_step / auto_side(ret[label])["qps"] / ovh["grpo_rag_s_per_step"]
            ret[label]["share_of_grpo_step"] = share
            out.append(
                {
                    "goal": f"retrieval < 2% of a GRPO step ({label}, {per_step} questions/step)",
                    "value": share,
                    "met": share < 0.02,
                }
            )
    if ovh:
        out.append(
            {
                "goal": "train() s/step / bare TRL s/step <= 1.05",
                "value": ovh["ratio"],
                "met": ovh["ratio"] <= 1.05,
            }
        )
    mem = res.get("memory")
    if mem:
        out.append(
            {
                "goal": "LoRA trains ~1% of parameters (r=16, all-linear)",
                "value": mem["trainable_share_lora"],
                "met": None,
            }
        )
        out.append(
            {
                "goal": "GRPO needs ~30% less memory than PPO (step memory, full fine-tuning)",
                "value": 1 - mem["grpo_over_ppo_full"],
                "met": None,
            }
        )
    return out


def fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}g}" if abs(x) < 1000 else f"{x:,.0f}"


def markdown(res: dict[str, Any]) -> str:
    m = res["meta"]
    lines = [
        "# grpo-rag benchmark (`make bench`)",
        "",
        f"Measured {m['date']} on {m['machine']}; {m['cpus']} CPU cores, no GPU; torch {m['versions']['torch']}, "
        f"trl {m['versions']['trl']}, bm25s {m['versions']['bm25s']}, rank_bm25 {m['versions']['rank_bm25']}. "
        f"Load average at start / end: {m['load_start']} / {m['load_end']} (above the core count means other jobs "
        f"shared the CPU and timings are inflated). Total {m['seconds']:.0f} s. Mode: {m['mode']}.",
        "",
        "Ratios are this toolkit against the alternative, measured in the same run on the same machine.",
        "",
    ]
    if not m.get("complete", True):
        lines += ["**Incomplete run:** the sections below are those finished before the run was stopped.", ""]
    if "retrieval" in res:
        r = res["retrieval"]
        lines += [
            "## Retrieval: grpo_rag BM25Retriever (bm25s) vs rank_bm25 BM25Okapi",
            "",
            "| corpus | passages | build s (ours / rank_bm25) | queries/s (ours numpy / ours numba / rank_bm25) | "
            "qps ratio numpy / numba | numba compile s | peak RSS over corpus MiB (ours / rank_bm25) | "
            "index load s (ours mmap / in-memory / rank_bm25 pickle) |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for label in ("real", "synthetic"):
            x = r[label]
            a, b, j = x["grpo_rag"], x["rank_bm25"], x.get("grpo_rag_numba")
            pick = fmt(b["load_pickle"]["load_s"]) if "load_pickle" in b else "not measured"
            jqps, jratio = (fmt(j["qps"]), f"**{fmt(x['qps_ratio_numba'])}x**") if j else ("-", "-")
            lines.append(
                f"| {label} | {x['passages']:,} | {fmt(a['build_s'])} / {fmt(b['build_s'])} | "
                f"{fmt(a['qps'])} / {jqps} ({a['queries']} q) / {fmt(b['qps'])} ({b['queries']} q sample) | "
                f"**{fmt(x['qps_ratio'])}x** / {jratio} | {fmt(j['first_query_s']) if j else '-'} | "
                f"{fmt(a['rss_over_corpus_mib'])} / {fmt(b['rss_over_corpus_mib'])} | "
                f"{fmt(a['load_mmap']['load_s'])} / {fmt(a['load_in_memory']['load_s'])} / {pick} |"
            )
        lines += [
            "",
            "Both engines score the same tokens (grpo_rag's stemmer + stopwords); ours builds a pooled index and "
            "one per domain, queried in one batch, with either backend (`retrieval.backend`: numpy, or numba "
            "from `pip install grpo-rag[fast]`, whose one-off JIT compile per process is the 'compile' column and "
            "is not in its queries/s; `auto` picks numba from "
            f"{NUMBA_MIN_PASSAGES:,} passages); rank_bm25 scores every passage per query in Python, so only "
            "a sample of queries is timed (its per-query cost does not depend on the sample). RSS added by "
            f"loading the saved index: mmap {fmt(r['real']['grpo_rag']['load_mmap']['rss_added_mib'])} MiB vs "
            f"in-memory {fmt(r['real']['grpo_rag']['load_in_memory']['rss_added_mib'])} MiB (real), "
            f"{fmt(r['synthetic']['grpo_rag']['load_mmap']['rss_added_mib'])} vs "
            f"{fmt(r['synthetic']['grpo_rag']['load_in_memory']['rss_added_mib'])} MiB (synthetic; the passage "
            "texts are read into memory either way, the score arrays are memory-mapped). Synthetic corpus: "
            f"{r['synthetic_corpus']['passages']:,} passages, {r['synthetic_corpus']['words']:,} words drawn "
            f"Zipf-like from {r['synthetic_corpus']['vocabulary']:,} made-up words, seed 0; queries are 5 words "
            "of a random passage.",
            "",
        ]
    if "overhead" in res:
        o = res["overhead"]
        s = o["settings"]
        lines += [
            "## Overhead: `grpo-rag train` (train()) vs a bare TRL GRPOTrainer script",
            "",
            "| | s/step (best run's median) | each run: median step s / train() s per step | setup s |",
            "|---|---|---|---|",
        ]
        for key, label in (("grpo_rag", "grpo-rag train()"), ("bare_trl", "scripts/bench_bare_trl.py")):
            runs = o[key]
            each = ", ".join(f"{fmt(r['median_step_s'])} / {fmt(r['s_per_step'])}" for r in runs)
            lines.append(
                f"| {label} | {fmt(o[key + '_s_per_step'])} | {each} | {fmt(runs[0]['setup_seconds'])} |"
            )
        lines += [
            "",
            f"Ratio grpo-rag / bare: **{o['ratio']:.3f}**. Same bootstrapped model, demo data and prompts "
            f"(the bare script reads the toolkit's prepared dataset), rewards exact_match/f1/grounded/format, "
            f"LoRA r={s['lora_r']} all-linear, {s['steps']} steps, {s['batch']} completions/step "
            f"({s['num_generations']} per prompt), {s['max_completion_length']} new tokens, beta {s['beta']}. "
            "A step is timed from Trainer's on_step_begin to on_step_end (generation, rewards, loss, backward, update); "
            "the median over steps 2..n is taken (step 1 warms up), the fastest run of each side is compared, runs "
            "alternate. trainer.train() wall time / steps (incl. warm-up) is shown too; setup (config, data, model "
            "load) is in neither.",
            "",
        ]
    if "memory" in res:
        mm = res["memory"]
        c = mm["cells"]
        lines += [
            f"## Memory: one GRPO step on a {mm['parameters'] / 1e6:.0f}M-parameter Llama (random init)",
            "",
            "| | trainable params | share | peak RSS MiB | step memory MiB (peak - before) |",
            "|---|---|---|---|---|",
        ]
        for key, label in (
            ("lora", "GRPO + LoRA r=16"),
            ("full", "GRPO, full fine-tuning"),
            ("lora_critic", "GRPO + LoRA + critic (PPO-like)"),
            ("full_critic", "GRPO full + critic (PPO-like)"),
        ):
            x = c[key]
            lines.append(
                f"| {label} | {x['trainable_params']:,} | {x['trainable_params'] / x['total_params']:.2%} | "
                f"{fmt(x['peak_rss_mib'])} | {fmt(x['step_mib'])} |"
            )
        lines += [
            "",
            f"LoRA / full step memory: **{mm['lora_over_full']:.2f}**; GRPO / GRPO+critic: "
            f"**{mm['grpo_over_ppo_full']:.2f}** full fine-tuning, **{mm['grpo_over_ppo_lora']:.2f}** LoRA "
            f"(GRPO saves {1 - mm['grpo_over_ppo_full']:.0%} / {1 - mm['grpo_over_ppo_lora']:.0%}). "
            f"{mm['batch']} completions ({mm['num_generations']} per prompt), {mm['max_completion_length']} new "
            f"tokens, beta 0.04, fp32 AdamW on CPU. The critic is a value-head model of the policy's config "
            f"(LoRA when the policy is LoRA) with its AdamW state, one forward + backward + step on "
            f"{mm['batch']} x {mm['critic_seq_len']} tokens per GRPO step; PPO's reward and reference models are "
            "not counted.",
            "",
        ]
    if "throughput" in res:
        t = res["throughput"]
        lines += [
            "## Throughput: sampled tokens/s in rollouts (transformers `generate`, what TRL uses without vLLM)",
            "",
        ]
        for key in ("timing_model", "memory_model"):
            x = t[key]
            lengths = sorted({r["length"] for r in x["rows"]})
            groups = sorted({r["group"] for r in x["rows"]})
            lines += [
                f"{x['parameters'] / 1e6:.2f}M parameters, {x['prompts']} prompts of {x['prompt_tokens']} tokens:",
                "",
                "| group size | " + " | ".join(f"{n} new tokens" for n in lengths) + " |",
                "|---|" + "---|" * len(lengths),
            ]
            for g in groups:
                cells = [
                    next(fmt(r["tokens_per_s"]) for r in x["rows"] if r["group"] == g and r["length"] == n)
                    for n in lengths
                ]
                lines.append(f"| {g} | " + " | ".join(cells) + " |")
            lines.append("")
    if res.get("goals"):
        lines += ["## Goals", "", "| goal | measured | met |", "|---|---|---|"]
        for g in res["goals"]:
            met = "n/a (a claim checked)" if g["met"] is None else ("yes" if g["met"] else "**no**")
            lines.append(f"| {g['goal']} | {fmt(g['value'])} | {met} |")
        lines.append("")
    return "\n".join(lines)


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "trl", "peft", "bm25s", "rank_bm25"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = "missing"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="tiny inputs, in-process: a smoke run in seconds"
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench", help="where results.md / results.json go")
    parser.add_argument("--only", default=",".join(SECTIONS), help="comma-separated sections to run")
    parser.add_argument("--work", type=Path, help="scratch folder (default: a temp dir, removed at the end)")
    parser.add_argument("--child", nargs=2, metavar=("TASK", "JSON"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(RESULT_PREFIX + json.dumps(TASKS[args.child[0]](json.loads(args.child[1]))), flush=True)
        return 0
    sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--only: unknown section(s) {', '.join(unknown)}; choose from {', '.join(SECTIONS)}")
    plan = QUICK if args.quick else Plan()
    work = args.work or Path(tempfile.mkdtemp(prefix="grpo-rag-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    run = Runner(plan.isolated, work / "children.log")
    started = time.time()
    res: dict[str, Any] = {
        "meta": {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "load_start": [round(x, 2) for x in os.getloadavg()],
            "versions": versions(),
            "mode": "quick (tiny inputs, in-process)"
            if args.quick
            else "full (one child process per measurement)",
            "plan": asdict(plan),
            "command": "python scripts/bench.py" + (" --quick" if args.quick else ""),
        }
    }

    def write(done: bool) -> None:
        """Results so far (after every section, so a long run that is stopped still leaves its figures)."""
        res["goals"] = goals(res)
        res["meta"].update(
            load_end=[round(x, 2) for x in os.getloadavg()], seconds=time.time() - started, complete=done
        )
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "results.json").write_text(json.dumps(res, indent=2) + "\n")
        (args.out / "results.md").write_text(markdown(res))

    try:
        if {"overhead", "memory", "throughput"} & set(sections):
            model = work / "timing-model"
            res["timing_model"] = run("bootstrap", raw=timing_config(work, plan, model, work / "unused"))
            data = work / "toolkit-run" / "prepared-train" / "data"
            if "overhead" in sections:
                res["overhead"] = bench_overhead(run, work, plan, model)
            else:  # the prepared dataset the other sections read comes from one toolkit run
                run(
                    "toolkit_train",
                    raw=timing_config(work, replace(plan, steps=1), model, work / "toolkit-run"),
                )
            write(False)
            if "throughput" in sections:
                res["throughput"] = bench_throughput(run, work, plan, model, data)
                write(False)
            if "memory" in sections:
                res["memory"] = bench_memory(run, work, plan, model, data)
                write(False)
        if "retrieval" in sections:  # last: the 1M-passage corpus is the longest part
            res["retrieval"] = bench_retrieval(run, work, plan)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    write(True)
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
