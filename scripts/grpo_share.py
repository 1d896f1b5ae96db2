"""What GRPO adds, per run and over several seeds: the table of the experiment entries.

Usage: python scripts/grpo_share.py [--eval eval-fresh] [--over EVAL_DIR] RUN_DIR[=REF_RUN] [...]
Each RUN_DIR is compared with a reference scored on the same questions, in this order:
- REF_RUN's folder of the same name (`runs/s0-cold=runs/s0-const`: one recipe against another, seed by seed);
- `--over EVAL_DIR`, one evaluation for every run (e.g. the prompted model's, for GRPO with no warm start);
- else the warm start the run continued (its `lora.init_adapter` in config.resolved.yaml).
Runs are scored into `eval/` (`grpo-rag eval CONFIG --checkpoint DIR --out DIR/eval`) or into the folder
`--eval` names (e.g. `eval-fresh`, questions from scripts/fresh_heldout.py). Per-domain columns are in domain
order (amazon / pubmedqa / reddit / tatqa / wikipedia on data/real). With two runs or more, a last row gives
the means, and the interval of the mean gain resamples questions with each question's scores averaged over
the runs.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import yaml

from grpo_rag.demo.real import row, span_exact_match
from grpo_rag.evaluation.paired import DEFAULT_SAMPLES, paired_bootstrap, paired_difference, question_scores


def scores(folder: Path) -> dict:
    """The demo's row of one evaluation, with the yes/no domains' commonest answer and its share."""
    metrics = json.loads((folder / "metrics.json").read_text())
    r = row(metrics)
    r["top"] = {
        d: (v["top_prediction"], v["top_prediction_share"]) for d, v in metrics["label_questions"].items()
    }
    return r


def reference(spec: str, eval_name: str, over: str | None) -> tuple[Path, Path]:
    """(run folder, the evaluation folder it is compared with) for one `RUN[=REF_RUN]` argument."""
    run, _, ref = spec.partition("=")
    if ref:
        return Path(run), Path(ref) / eval_name
    if over:
        return Path(run), Path(over)
    init = yaml.safe_load((Path(run) / "config.resolved.yaml").read_text())["lora"]["init_adapter"]
    if not init:
        raise SystemExit(f"{run}: trained from the base model (no lora.init_adapter); pass --over EVAL_DIR")
    return Path(run), Path(init).parent / eval_name


def _interval(d: dict | None) -> str:
    return f" [{d['ci95'][0] * 100:+.1f}, {d['ci95'][1] * 100:+.1f}]" if d and d["ci95"] else ""


def main(specs: list[str], eval_name: str = "eval", over: str | None = None) -> None:
    print(
        "| run | reference EM / F1 | run EM / F1 | EM over the reference [95%] | F1 over it | of the EM, span "
        "domains | EM per domain | commonest yes/no answer | groups with signal, per domain | GRPO time |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    means: list[tuple[float, ...]] = []
    per_question: list[tuple[list[str], list[float], list[float]]] = []  # ids, run's EM, reference's EM
    for spec in specs:
        run, ref_dir = reference(spec, eval_name, over)
        grpo_dir = run / eval_name
        ref, grpo = scores(ref_dir), scores(grpo_dir)
        a, b = question_scores(grpo_dir, lenient=True), question_scores(ref_dir, lenient=True)
        em, f1 = paired_difference(a, b, "exact_match"), paired_difference(a, b, "f1")
        # from the per-question scores, as the interval is (metrics.json's rounded means can tip a .x5)
        gain = em["difference"] if em else grpo["exact_match"] - ref["exact_match"]
        f1_gain = f1["difference"] if f1 else grpo["f1"] - ref["f1"]
        span_run, span_ref = span_exact_match(grpo), span_exact_match(ref)
        span = f"{(span_run - span_ref) * 100:+.1f}" if span_run is not None and span_ref is not None else "-"
        domains = " / ".join(
            f"{grpo['per_domain'][d]['exact_match']:.3f}" for d in sorted(grpo["per_domain"])
        )
        top = ", ".join(f'"{t}" {s:.2f}' for t, s in grpo["top"].values())
        seconds = json.loads((run / "train_summary.json").read_text())["train_seconds"]
        logged = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
        signal: dict[str, list[float]] = {}  # per domain, its logged steps' shares (a mean of means)
        for r in logged:
            for k, v in r.items():
                if k.startswith("signal/"):
                    signal.setdefault(k.removeprefix("signal/"), []).append(v)
        signal_text = " / ".join(f"{sum(v) / len(v):.2f}" for _, v in sorted(signal.items())) or "-"
        print(
            f"| {run.name} | {ref['exact_match']:.3f} / {ref['f1']:.3f} | {grpo['exact_match']:.3f} / "
            f"{grpo['f1']:.3f} | {gain * 100:+.1f}{_interval(em)} | {f1_gain * 100:+.1f} | {span} "
            f"| {domains} | {top} | {signal_text} | {seconds:,.0f} s |"
        )
        means.append((ref["exact_match"], ref["f1"], grpo["exact_match"], grpo["f1"], gain, f1_gain))
        by_id = dict(zip(b["id"], b["exact_match"], strict=True))
        ids = sorted(i for i in a["id"] if i in by_id)
        mine = dict(zip(a["id"], a["exact_match"], strict=True))
        per_question.append((ids, [mine[i] for i in ids], [by_id[i] for i in ids]))
    if len(means) > 1:
        m = np.mean(means, axis=0)
        same = all(ids == per_question[0][0] for ids, _, _ in per_question)  # one question set for all runs
        ci = (
            paired_bootstrap(
                list(np.mean([x for _, x, _ in per_question], axis=0)),
                list(np.mean([y for _, _, y in per_question], axis=0)),
                DEFAULT_SAMPLES,
            )
            if same
            else None
        )
        interval = f" [{ci[0] * 100:+.1f}, {ci[1] * 100:+.1f}]" if ci else ""
        print(
            f"| mean of {len(means)} | {m[0]:.3f} / {m[1]:.3f} | {m[2]:.3f} / {m[3]:.3f} | {m[4] * 100:+.1f}"
            f"{interval} | {m[5] * 100:+.1f} | | | | | |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval", default="eval", help="the evaluation folder inside each run")
    parser.add_argument("--over", help="one evaluation folder every run is compared with")
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR[=REF_RUN]")
    args = parser.parse_args()
    main(args.runs, args.eval, args.over)
