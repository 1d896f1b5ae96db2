"""Multi-turn search vs single-shot retrieval on a real model and real two-hop questions, at the same budget.

Both arms use SmolLM2-135M-Instruct, the same two-hop questions (data/real/twohop_*.jsonl, composed from real
Wikipedia questions by `grpo_rag.data.compose`), as many passages per question (single-shot: BM25 top-2 in
the prompt; multi-turn: 2 search calls x 1 passage), as many supervised warm-start steps and as many GRPO
steps. Steps (each through the `grpo-rag` CLI):
prompted base model, both ways -> warm start (single-shot: supervised on the gold answer over the retrieved
passages; multi-turn: supervised on gold search conversations, assistant turns only) -> GRPO from each warm
start -> evaluations. Retrieval alone is measured too (one BM25 query with the question vs the two gold hop
queries), and every multi-turn evaluation is broken down into where it fails: no call, malformed call,
one call only, first hop missed, bridge name not copied into the second query, second hop missed, answer
wrong. Writes report.md, report.json and plots/*.png into the run folder.
Usage (from the repo root): python -m grpo_rag.studies.multiturn_real [--out runs/multiturn-real]
       [--sft-steps 40] [--grpo-steps 20] [--config configs/multiturn-real.yaml] [--report-only]
"""

from __future__ import annotations

import argparse
import ast
import json
import time
from pathlib import Path
from typing import Any

from grpo_rag.data.compose import load_hops
from grpo_rag.data.io import iter_objects
from grpo_rag.demo.quickstart import step  # runs one CLI step and times it
from grpo_rag.sections import load_config

SFT_LR, SFT_BATCH = 1e-3, 4  # 1e-4 left the model answering without searching (0.25 calls per question)
#: The single-shot arm: the same config, passages in the prompt, rewards without the search budget.
SINGLE = [
    "rollout.mode=single",
    "rewards=[{name: f1, kwargs: {lenient: true}}, {name: exact_match, kwargs: {lenient: true}},"
    " {name: format, weight: 0.2}]",
    "training.max_completion_length=32",
    "eval.max_new_tokens=32",
]
STAGES = (
    "no_call",
    "malformed_call",
    "one_call_only",
    "hop1_missed",
    "bridge_not_copied",
    "hop2_missed",
    "both_hops_found",
)


def _messages(completion: Any) -> list[dict[str, Any]]:
    """A prediction's completion as messages (predictions.jsonl stores a multi-turn one as its repr)."""
    if isinstance(completion, list):
        return completion
    try:
        value = ast.literal_eval(completion)
    except (ValueError, SyntaxError):
        return [{"role": "assistant", "content": str(completion)}]
    return value if isinstance(value, list) else [{"role": "assistant", "content": str(value)}]


def _queries(messages: list[dict[str, Any]]) -> list[str]:
    out = []
    for m in messages:
        for call in m.get("tool_calls") or []:
            args = call.get("function", call).get("arguments") or {}
            out.append(str(args.get("query", "")) if isinstance(args, dict) else str(args))
    return out


def failure_stage(pred: dict[str, Any], hops: list[dict[str, Any]], bridge: str) -> str:
    """Where one multi-turn rollout first left the gold path (STAGES, in order); the answer is scored apart."""
    queries = _queries(_messages(pred["completion"]))
    found = set(pred.get("passage_ids") or [])
    if not queries:
        return "no_call"
    if pred.get("search_errors"):
        return "malformed_call"
    if len(queries) < 2:
        return "one_call_only"
    if not set(hops[0]["gold_ids"]) <= found:
        return "hop1_missed"
    if bridge.lower() not in queries[1].lower():
        return "bridge_not_copied"
    if not set(hops[1]["gold_ids"]) <= found:
        return "hop2_missed"
    return "both_hops_found"


def failure_counts(eval_dir: Path, qa_path: str) -> dict[str, dict[str, int]]:
    """Per stage of `failure_stage`: questions, and how many of them were answered right all the same
    (a query without the bridge name can still find the answer passage)."""
    hops = load_hops(qa_path)
    bridges = {obj["id"]: obj["bridge"] for _, obj in iter_objects(Path(qa_path))}
    counts = {s: {"questions": 0, "right": 0} for s in STAGES}
    for pred in _predictions(eval_dir):
        stage = counts[failure_stage(pred, hops[pred["id"]], bridges[pred["id"]])]
        stage["questions"] += 1
        stage["right"] += pred["lenient_exact_match"] >= 1.0
    return counts


def _predictions(eval_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (eval_dir / "predictions.jsonl").read_text().splitlines()]


def answer_passage_found(eval_dir: Path, qa_path: str) -> float:
    """Share of questions whose second-hop (answer) passage was in the model's context, either arm."""
    hops = load_hops(qa_path)
    preds = _predictions(eval_dir)
    found = [set(hops[p["id"]][1]["gold_ids"]) <= set(p.get("passage_ids") or []) for p in preds]
    return round(sum(found) / max(1, len(found)), 3)


def retrieval_only(cfg: Any) -> dict[str, float]:
    """Share of held-out questions whose gold passages one BM25 query (top-k) / the gold hop queries find."""
    from grpo_rag.data.io import load_qa
    from grpo_rag.pipeline.prepare import load_retriever
    from grpo_rag.rollout.search import SearchEnvironment, search_options

    qa = load_qa(cfg.data.eval)
    hops = load_hops(cfg.data.eval)
    retriever = load_retriever(cfg)
    k = cfg.retrieval.k
    single = retriever.retrieve(list(qa["question"]), k=k)
    env = SearchEnvironment(retriever, search_options(cfg))
    both_single = hop2_single = both_gold = hop2_gold = 0
    for row, hits in zip(qa, single, strict=True):
        ids = {h.id for h in hits}
        h = hops[row["id"]]
        both_single += set(row["gold_ids"]) <= ids
        hop2_single += set(h[1]["gold_ids"]) <= ids
        env.reset(**row)
        for hop in h:
            env.search(hop["question"])
        both_gold += set(row["gold_ids"]) <= set(env.passage_ids)
        hop2_gold += set(h[1]["gold_ids"]) <= set(env.passage_ids)
    n = len(qa)
    return {
        "n": n,
        f"single_top{k}_both_hops": round(both_single / n, 3),
        f"single_top{k}_hop2": round(hop2_single / n, 3),
        "gold_queries_both_hops": round(both_gold / n, 3),
        "gold_queries_hop2": round(hop2_gold / n, 3),
    }


def _row(eval_dir: Path, qa_path: str) -> dict[str, Any]:
    m = json.loads((eval_dir / "metrics.json").read_text())
    keys = (
        "lenient_exact_match",
        "lenient_f1",
        "exact_match",
        "grounded",
        "search_calls",
        "gold_recall",
        "n",
    )
    return {**{k: m.get(k) for k in keys}, "answer_passage_found": answer_passage_found(eval_dir, qa_path)}


def _cell(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def report_markdown(report: dict[str, Any]) -> str:
    """The study's report: scores per arm, retrieval alone, multi-turn failure stages."""
    lines = [
        "# Multi-turn search vs single-shot on real two-hop questions (SmolLM2-135M-Instruct)",
        "",
        f"{report['heldout_questions']} held-out two-hop questions; EM / F1 lenient; the same passage budget "
        "(single-shot top-2, multi-turn 2 calls x 1); "
        f"{report['sft_steps']} warm-start steps and {report['grpo_steps']} GRPO steps per arm.",
        "",
        "| arm | EM | F1 | strict EM | grounded | answer passage in context | search calls | gold passages found |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, r in report["rows"].items():
        cells = [r["lenient_exact_match"], r["lenient_f1"], r["exact_match"], r["grounded"]]
        lines.append(
            f"| {name} | "
            + " | ".join(_cell(v) for v in cells)
            + f" | {_cell(r.get('answer_passage_found'))} | {_cell(r.get('search_calls'), 2)}"
            + f" | {_cell(r.get('gold_recall'))} |"
        )
    lines += ["", "Retrieval alone (all held-out questions):", "", "| measure | share |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in report["retrieval_only"].items()]
    lines += [
        "",
        "Where multi-turn rollouts leave the gold path (first stage that fails; questions, and in brackets those "
        "answered right all the same):",
        "",
    ]
    arms = list(report["failures"])
    lines += ["| stage | " + " | ".join(arms) + " |", "|---" * (len(arms) + 1) + "|"]
    for stage in STAGES:
        cells = [report["failures"][a][stage] for a in arms]
        lines.append(f"| {stage} | " + " | ".join(f"{c['questions']} ({c['right']})" for c in cells) + " |")
    lines += ["", "Timings (s): " + ", ".join(f"{k} {v:.0f}" for k, v in report["timings_s"].items())]
    return "\n".join(lines) + "\n"


def plot(report: dict[str, Any], out_dir: Path) -> list[str]:
    """plots/scores.png (EM and F1 per arm) and plots/failures.png (multi-turn failure stages)."""
    from grpo_rag.plotting import pyplot, save

    plt = pyplot()
    names = list(report["rows"])
    fig, ax = plt.subplots(figsize=(8, 4))
    xs = range(len(names))
    ax.bar([x - 0.2 for x in xs], [report["rows"][n]["lenient_exact_match"] for n in names], 0.4, label="EM")
    ax.bar([x + 0.2 for x in xs], [report["rows"][n]["lenient_f1"] for n in names], 0.4, label="F1")
    ax.set_xticks(list(xs), names, rotation=20, ha="right", fontsize=8)
    ax.set_ylabel("score (lenient)")
    ax.set_title(f"Two-hop held-out questions (n={report['heldout_questions']})")
    ax.legend()
    paths = [str(save(fig, out_dir / "plots" / "scores.png"))]
    fig, ax = plt.subplots(figsize=(8, 4))
    arms = list(report["failures"])
    width = 0.8 / max(1, len(arms))
    for i, arm in enumerate(arms):
        ax.bar(
            [x + i * width for x in range(len(STAGES))],
            [report["failures"][arm][s]["questions"] for s in STAGES],
            width,
            label=arm,
        )
    ax.set_xticks(
        [x + 0.4 - width / 2 for x in range(len(STAGES))], STAGES, rotation=25, ha="right", fontsize=8
    )
    ax.set_ylabel("questions")
    ax.set_title("Multi-turn: the first stage where a rollout leaves the gold path")
    ax.legend(fontsize=8)
    paths.append(str(save(fig, out_dir / "plots" / "failures.png")))
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/multiturn-real.yaml")
    parser.add_argument("--out", default="runs/multiturn-real")
    parser.add_argument("--sft-steps", type=int, default=40)
    parser.add_argument("--grpo-steps", type=int, default=20)
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="rebuild report.md/json and plots from the run folder's evaluations",
    )
    args = parser.parse_args(argv)
    out = Path(args.out)
    c = args.config
    cfg = load_config(c)
    arms = {"multi-turn": [], "single-shot": SINGLE}
    if args.report_only:
        timings = (
            json.loads((out / "report.json").read_text())["timings_s"]
            if (out / "report.json").is_file()
            else {}
        )
    else:
        timings = run_arms(c, cfg, out, arms, args.sft_steps, args.grpo_steps)
    write_report(c, cfg, out, arms, timings, args.sft_steps, args.grpo_steps)
    return 0


def run_arms(
    c: str, cfg: Any, out: Path, arms: dict[str, list[str]], sft_steps: int, grpo_steps: int
) -> dict[str, float]:
    """Every training and evaluation step of both arms, through the CLI; returns their timings (s)."""
    timings: dict[str, float] = {}
    start = time.time()
    step("index", ["index", "--corpus", cfg.data.corpus, "--out", str(cfg.retrieval.index_dir)], timings)
    for arm, extra in arms.items():
        run = out / arm
        warm = run / "warm-start"
        o = [*extra, f"training.output_dir={run}", f"training.max_steps={grpo_steps}"]
        step(f"eval base {arm}", ["eval", c, *o, "--out", str(run / "eval-base")], timings)
        sft = ["sft", c, *o, "--out", str(warm), "--overwrite", "--steps", str(sft_steps)]
        step(
            f"warm start {arm}",
            [*sft, "--learning-rate", str(SFT_LR), "--batch-size", str(SFT_BATCH)],
            timings,
        )
        step(
            f"eval warm start {arm}",
            ["eval", c, *o, "--checkpoint", str(warm), "--out", str(warm / "eval")],
            timings,
        )
        step(f"grpo {arm}", ["train", c, "--overwrite", *o, f"lora.init_adapter={warm / 'adapter'}"], timings)
        step(
            f"eval grpo {arm}", ["eval", c, *o, "--checkpoint", str(run), "--out", str(run / "eval")], timings
        )
    timings["total"] = round(time.time() - start, 1)
    return timings


def write_report(
    c: str,
    cfg: Any,
    out: Path,
    arms: dict[str, list[str]],
    timings: dict[str, float],
    sft_steps: int,
    grpo_steps: int,
) -> None:
    """report.json, report.md and plots/*.png from the evaluations in the run folder."""
    folders = {
        f"{label} {arm}": path
        for arm in arms
        for label, path in (
            ("base", out / arm / "eval-base"),
            ("warm start", out / arm / "warm-start" / "eval"),
            ("GRPO", out / arm / "eval"),
        )
    }
    rows = {name: _row(path, cfg.data.eval) for name, path in folders.items()}
    report = {
        "config": c,
        "heldout_questions": rows["GRPO multi-turn"]["n"],
        "sft_steps": sft_steps,
        "grpo_steps": grpo_steps,
        "rows": rows,
        "retrieval_only": retrieval_only(cfg),
        "failures": {
            name: failure_counts(path, cfg.data.eval)
            for name, path in folders.items()
            if "multi-turn" in name
        },
        "timings_s": timings,
    }
    report["plots"] = plot(report, out)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(report_markdown(report))
    print(report_markdown(report))


if __name__ == "__main__":
    raise SystemExit(main())
