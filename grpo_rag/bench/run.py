"""Measure grpo-rag's speed and memory side by side with the usual alternatives -> bench/results.{md,json}.

Sections (all from one run, on one machine):
- retrieval: grpo_rag's BM25Retriever vs rank_bm25's BM25Okapi on data/real and on a generated
  1,000,000-passage corpus: build time, batched queries/s, peak memory, load time of a saved index;
- overhead: seconds per GRPO step of the toolkit's train() vs a bare TRL script (grpo_rag/bench/bare_trl.py)
  with the same model, data, prompts, generation length, LoRA settings and reward functions;
- memory: peak memory of a GRPO step with LoRA vs full fine-tuning on a ~100M-parameter Llama, with and
  without a PPO-style critic of the policy's size; trainable parameter share;
- throughput: generated tokens/s in rollouts vs group size and completion length.
Each measurement runs in its own child process so that its peak RSS is its own; `--quick` (a smoke run
on tiny inputs, used by tests/bench/test_bench.py) runs them in-process, so its memory figures mean little.
Measurements: grpo_rag/bench/tasks.py; report: grpo_rag/bench/report.py.
Usage: python -m grpo_rag.bench [--quick] [--out bench] [--only retrieval,overhead,memory,throughput]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from grpo_rag.bench.report import goals, markdown
from grpo_rag.bench.tasks import QUICK, Plan, Runner
from grpo_rag.retrieval.bm25 import numba_available

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there

SECTIONS = ("retrieval", "overhead", "memory", "throughput")


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
        sides = {
            backend: run(
                "toolkit_retrieval",
                corpus=str(corpus),
                queries=str(queries),
                n_queries=plan.queries,
                k=plan.k,
                save=str(index_dir) if backend == "numpy" else None,  # one saved index for the load timings
                backend=backend,
            )
            for backend in ("numpy", "numba")
            if backend == "numpy" or numba_available()
        }
        ours, jit = sides["numpy"], sides.get("numba")
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


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("torch", "transformers", "trl", "peft", "bm25s", "rank_bm25", "numba"):
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
    args = parser.parse_args(argv)
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
            "command": "python -m grpo_rag.bench" + (" --quick" if args.quick else ""),
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
