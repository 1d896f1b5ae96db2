"""The decision report of `grpo-rag compare`: verdict rows as measured differences, and the markdown.

Only reads the report dict `compare.run_compare` builds; nothing here trains or evaluates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grpo_rag.evaluation.paired import paired_difference

#: Human-readable arm names, in report order.
LABELS = {
    "closed_book_ft": "closed-book FT",
    "rag": "RAG (untrained)",
    "raft": "RAFT FT",
    "rag_grpo": "RAG + GRPO",
    "hybrid": "hybrid (RAFT then GRPO)",
}

#: Pairs (a, b) reported as "a - b" verdict rows when both arms ran.
VERDICT_PAIRS = (
    ("rag", "closed_book_ft"),
    ("raft", "closed_book_ft"),
    ("rag_grpo", "closed_book_ft"),
    ("hybrid", "closed_book_ft"),
    ("raft", "rag"),
    ("rag_grpo", "rag"),
    ("hybrid", "rag"),
    ("rag_grpo", "raft"),
    ("hybrid", "raft"),
    ("hybrid", "rag_grpo"),
)


def _interval(report: dict[str, Any], a: str, b: str, metric: str) -> str:
    """ " [lo, hi]" for a paired bootstrap of arm a minus arm b on the held-out questions both scored."""
    samples = report["settings"].get("bootstrap_samples", 0)
    sa, sb = report["arms"][a].get("heldout_scores"), report["arms"][b].get("heldout_scores")
    if not samples or not sa or not sb:
        return ""
    diff = paired_difference(sa, sb, metric, samples)
    if diff is None:  # no question in common
        return ""
    lo, hi = diff["ci95"]
    return f" [{lo:+.3f}, {hi:+.3f}]"


def _fresh_names(report: dict[str, Any]) -> list[str]:
    return list(report["freshness"]["set_corpus"]) if report.get("freshness") else []


def _em(arm: dict[str, Any], where: str) -> float | None:
    if where == "heldout":
        return arm["heldout"]["exact_match"]
    fresh = arm.get("freshness")
    return fresh[where]["exact_match"] if fresh else None


def _diff(a: float | None, b: float | None) -> str:
    return "n/a" if a is None or b is None else f"{a - b:+.3f}"


def verdict_rows(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Measured differences between arms (a - b), then each arm's change on the updated facts and the
    cost of taking in new data. Statements of what was measured, not advice."""
    arms = report["arms"]
    rows: list[dict[str, Any]] = []
    for a, b in VERDICT_PAIRS:
        if a not in arms or b not in arms:
            continue
        A, B = arms[a], arms[b]
        parts = [
            f"{_diff(_em(A, 'heldout'), _em(B, 'heldout'))}{_interval(report, a, b, 'exact_match')} EM on "
            f"held-out (F1 {_diff(A['heldout']['f1'], B['heldout']['f1'])}{_interval(report, a, b, 'f1')})"
        ]
        fresh = report["freshness"]
        for name in _fresh_names(report)[1:]:
            parts.append(f"{_diff(_em(A, name), _em(B, name))} on {fresh['set_labels'][name]}")
        minutes = (A["cost"]["cumulative_train_seconds"] - B["cost"]["cumulative_train_seconds"]) / 60
        parts.append(f"{minutes:+.1f} min training")
        domains = {
            d: _diff(
                A["heldout"]["per_domain"][d]["exact_match"], B["heldout"]["per_domain"][d]["exact_match"]
            )
            for d in A["heldout"]["per_domain"]
            if d in B["heldout"]["per_domain"]
        }
        rows.append(
            {
                "kind": "difference",
                "a": a,
                "b": b,
                "text": f"{LABELS[a]} - {LABELS[b]}: " + "; ".join(parts),
                "per_domain_em": domains,
            }
        )
    if report["freshness"]:
        first, second = report["freshness"]["pair"]
        labels = report["freshness"]["set_labels"]
        for name, arm in arms.items():
            before, after = _em(arm, first), _em(arm, second)
            rows.append(
                {
                    "kind": "freshness",
                    "a": name,
                    "text": f"{LABELS[name]}: {before:.3f} EM on {labels[first]}, {after:.3f} on "
                    f"{labels[second]} ({_diff(after, before)})",
                }
            )
        trained = {n: a["cost"]["cumulative_train_seconds"] for n, a in arms.items() if a["cost"]["steps"]}
        if trained:
            times = ", ".join(f"{LABELS[n]} {s / 60:.1f} min" for n, s in trained.items())
            rows.append(
                {
                    "kind": "intake",
                    "text": f"taking in the changed corpus: re-index "
                    f"{report['freshness']['reindex_seconds']:.2f} s; a retrain costs the measured training "
                    f"time of each trained arm: {times}",
                }
            )
    domains = sorted({d for a in arms.values() for d in a["heldout"]["per_domain"]})
    for d in domains if len(domains) > 1 else []:
        ranked = sorted(
            arms, key=lambda n: -(arms[n]["heldout"]["per_domain"].get(d, {}).get("exact_match") or 0.0)
        )
        best_em = arms[ranked[0]]["heldout"]["per_domain"][d]["exact_match"] or 0.0
        runner = (
            arms[ranked[1]]["heldout"]["per_domain"].get(d, {}).get("exact_match")
            if len(ranked) > 1
            else None
        )
        margin = f", {best_em - (runner or 0.0):+.3f} over {LABELS[ranked[1]]}" if len(ranked) > 1 else ""
        rows.append(
            {
                "kind": "domain_best",
                "domain": d,
                "a": ranked[0],
                "text": f"{d}: {LABELS[ranked[0]]} has the highest EM ({best_em:.3f}{margin})",
            }
        )
    top = max(arms[n]["heldout"]["exact_match"] or 0.0 for n in arms)
    best = [n for n in arms if (arms[n]["heldout"]["exact_match"] or 0.0) == top]  # all of them on a tie
    rows.append(
        {
            "kind": "best",
            "a": best[0],
            "arms": best,
            "text": f"highest held-out EM: {', '.join(LABELS[n] for n in best)} ({top:.3f})",
        }
    )
    return rows


def _cell(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def report_markdown(report: dict[str, Any]) -> str:
    """The decision report as markdown: accuracy, per domain, freshness, cost, then the verdict rows."""
    arms = report["arms"]
    s = report["settings"]
    lines = [
        "# Fine-tuning vs RAG vs hybrid",
        "",
        f"Config `{report['config']}`, model `{report['model']}`, held-out `{report['data']['eval']}`; "
        f"BM25 k={s['retrieval_k']}; supervised arms {s['sft_steps']} steps (lr {s['sft_learning_rate']}, "
        f"batch {s['sft_batch_size']}), GRPO arms {s['grpo_steps']} steps (lr {s['grpo_learning_rate']}); "
        f"LoRA r={s['lora_r']}. Wall time {report['wall_seconds'] / 60:.1f} min.",
        "",
        "## Held-out accuracy",
        "",
        f"EM and F1 are {s.get('score', 'strict')} ({'untagged answers read too' if s.get('score') == 'lenient' else 'the answer must be in <answer> tags'}).",
        "",
        "| arm | context | n | EM | F1 | grounded | citation precision | s/question | EM other context |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for a in arms.values():
        h, o = a["heldout"], a["heldout_other_context"]
        lines.append(
            f"| {a['label']} | {a['context']} | {h['n']} | {_cell(h['exact_match'])} | {_cell(h['f1'])} | "
            f"{_cell(h['grounded'])} | {_cell(h['citation_precision'])} | {_cell(h['seconds_per_question'], 4)} | "
            f"{_cell(o['exact_match'])} ({o['context']}) |"
        )
    domains = sorted({d for a in arms.values() for d in a["heldout"]["per_domain"]})
    for heading, metric in (("## Held-out exact match per domain", "exact_match"), ("F1 per domain:", "f1")):
        lines += ["", heading, "", "| arm | " + " | ".join(domains) + " |", "|---" * (len(domains) + 1) + "|"]
        for a in arms.values():
            pd = a["heldout"]["per_domain"]
            cells = " | ".join(_cell(pd.get(d, {}).get(metric)) for d in domains)
            lines.append(f"| {a['label']} | {cells} |")
    fresh = report["freshness"]
    if fresh:
        names = _fresh_names(report)
        lines += [
            "",
            "## Freshness: corpus changed, re-indexed, nothing retrained",
            "",
            f"{fresh['summary']}; re-indexing took {fresh['reindex_seconds']:.2f} s. Exact match:",
            "",
            "| arm | " + " | ".join(fresh["set_labels"][n] for n in names) + " |",
            "|---" * (len(names) + 1) + "|",
        ]
        for a in arms.values():
            f = a["freshness"]
            lines.append(f"| {a['label']} | " + " | ".join(_cell(f[n]["exact_match"]) for n in names) + " |")
    r = report["retrieval"]
    lines += [
        "",
        "## Cost",
        "",
        f"BM25: index built in {r['index_seconds']:.2f} s, loaded in {r['index_load_seconds']:.2f} s, "
        f"{r['seconds_per_question'] * 1000:.2f} ms per question. Latency is generation time per question "
        "(batched as in `eval.batch_size`), plus the BM25 time with retrieval. Peak RSS is the whole process "
        "while the arm trained / evaluated.",
        "",
        "| arm | training (min) | incl. earlier stages (min) | steps | trainable params | share | adapter folder (KiB) "
        "| peak RSS train (MiB) | peak RSS eval (MiB) | s/question with retrieval | without |",
        "|---" * 11 + "|",
    ]
    for a in arms.values():
        c, lat = a["cost"], a["latency"]
        lines.append(
            f"| {a['label']} | {c['train_seconds'] / 60:.2f} | {c['cumulative_train_seconds'] / 60:.2f} | {c['steps']} | "
            f"{c['trainable_params']:,} | {c['trainable_share'] * 100:.2f}% | {c['adapter_bytes'] / 1024:.0f} | "
            f"{_cell(c['train_peak_rss_mb'], 0)} | {_cell(a['inference_peak_rss_mb'], 0)} | "
            f"{lat['with_retrieval_s']:.4f} | {lat['without_retrieval_s']:.4f} |"
        )
    lines += ["", "## Measured differences", ""]
    lines += [f"- {row['text']}" for row in report["verdict"]]
    if report.get("plots"):
        lines += ["", "## Plots", ""] + [f"![{Path(p).stem}]({Path(p).name})" for p in report["plots"]]
    return "\n".join(lines) + "\n"
