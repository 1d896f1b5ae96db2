"""`make bench`'s report: the issue's goals checked against the figures, and bench/results.md."""

from __future__ import annotations

from typing import Any

from grpo_rag.retrieval.bm25 import NUMBA_MIN_PASSAGES


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
        for key, label in (("grpo_rag", "grpo-rag train()"), ("bare_trl", "grpo_rag/bench/bare_trl.py")):
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
