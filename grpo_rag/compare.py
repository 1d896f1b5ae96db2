"""`grpo-rag compare`: fine-tuning vs RAG vs hybrid, measured on the same base model, data and budget.

Each arm trains with the toolkit's own code (`sft.train_sft` for the supervised arms, `train.train` for
GRPO) and is scored by `evaluate.evaluate`; this module only sequences the runs, measures their cost,
changes the corpus for the freshness check, and writes report.json, report.md and the plots.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from grpo_rag.config import RunConfig, dump_config
from grpo_rag.data import load_corpus, load_qa, write_atomic
from grpo_rag.errors import ConfigError
from grpo_rag.evaluate import evaluate
from grpo_rag.measure import PeakRSS, dir_bytes
from grpo_rag.prepare import Context, load_retriever
from grpo_rag.retrieval import build_index
from grpo_rag.sft import SFTSettings, train_sft
from grpo_rag.train import train

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

#: Evaluation sets of the freshness check: (name, which corpus it is scored against).
FRESHNESS_SETS = (("updated_before", "original"), ("updated_after", "changed"), ("new_entities", "changed"))

#: Metrics copied from each evaluation into the report (the full metrics.json stays in the arm's folder).
KEPT = ("n", "exact_match", "f1", "grounded", "citation_precision", "seconds_per_question")


def primary_context(arm: str) -> Context:
    """The prompts an arm is meant to be used with: no passages for closed-book FT, BM25 for the rest."""
    return "closed_book" if arm == "closed_book_ft" else "retrieved"


def _with(cfg: RunConfig, **sections: dict[str, Any]) -> RunConfig:
    """A copy of `cfg` with some fields of some sections replaced (validated again by the dataclasses)."""
    changes: dict[str, Any] = {}
    for name, fields in sections.items():
        current = getattr(cfg, name)
        changes[name] = (
            {**current, **fields} if isinstance(current, dict) else dataclasses.replace(current, **fields)
        )
    return dataclasses.replace(cfg, **changes)


def _trim(metrics: dict[str, Any]) -> dict[str, Any]:
    out = {k: metrics.get(k) for k in KEPT}
    out["per_domain"] = {
        d: {k: m.get(k) for k in KEPT if k != "seconds_per_question"}
        for d, m in metrics.get("per_domain", {}).items()
    }
    return out


# --- freshness ----------------------------------------------------------------------------------------------
def prepare_freshness(cfg: RunConfig, out: Path) -> dict[str, Any]:
    """Write the changed demo KB and its QA sets under `out`, re-index the changed corpus (timed)."""
    from grpo_rag.freshness import change_kb, write_changed_kb

    cc = cfg.compare
    corpus = [dict(r) for r in load_corpus(cfg.data.corpus)]
    train_qa = [dict(r) for r in load_qa(cfg.data.train)]
    try:
        kb = change_kb(
            corpus,
            train_qa,
            updated_per_domain=cc.updated_facts_per_domain,
            new_families_per_domain=cc.new_families_per_domain,
            seed=cc.freshness_seed,
        )
    except ValueError as exc:
        raise ConfigError(
            f"compare.freshness: needs the demo data made by `grpo-rag demo-data` ({exc}); "
            "set compare.freshness: false for other data"
        ) from None
    paths = write_changed_kb(out, kb)
    start = time.time()
    build_index(
        paths["corpus"],
        out / "index",
        stemmer=cfg.retrieval.stemmer,
        stopwords=cfg.retrieval.stopwords,
        show_progress=False,
    )
    reindex = time.time() - start
    original = {r["id"]: r["text"] for r in corpus}
    return {
        "corpus": str(paths["corpus"]),
        "index": str(out / "index"),
        "sets": {name: str(paths[name]) for name, _ in FRESHNESS_SETS},
        "updated_passages": sum(
            1 for r in kb.corpus if r["id"] in original and original[r["id"]] != r["text"]
        ),
        "added_passages": len(kb.corpus) - len(corpus),
        "updated_questions": len(kb.updated_after),
        "new_entity_questions": len(kb.new_entities),
        "reindex_seconds": round(reindex, 3),
    }


# --- arms ---------------------------------------------------------------------------------------------------
def train_arm(
    cfg: RunConfig, arm: str, run_dir: Path, adapters: dict[str, Path], overwrite: bool
) -> dict[str, Any]:
    """Train one arm into `run_dir` with the toolkit's trainers; returns its training summary ({} for rag)."""
    cc = cfg.compare
    seed = int(cfg.training.get("seed", 0))
    if arm == "rag":
        return {}
    if arm in ("closed_book_ft", "raft"):
        settings = SFTSettings(
            steps=cc.sft_steps,
            learning_rate=cc.sft_learning_rate,
            batch_size=cc.sft_batch_size,
            context=primary_context(arm),
            shuffle_passages=cc.shuffle_passages,
            seed=seed,
        )
        return train_sft(cfg, settings, run_dir, overwrite=overwrite)
    init = str(adapters["raft"]) if arm == "hybrid" else None
    arm_cfg = _with(cfg, training={"output_dir": str(run_dir)}, lora={"init_adapter": init})
    return train(arm_cfg, overwrite=overwrite)


def _cost(summary: dict[str, Any], rss: PeakRSS, adapter: Path | None, before: float) -> dict[str, Any]:
    seconds = float(summary.get("train_seconds", 0.0))
    trainable = int(summary.get("trainable_params", 0))
    total = summary.get("total_params")
    return {
        "train_seconds": round(seconds, 1),
        "cumulative_train_seconds": round(
            before + seconds, 1
        ),  # hybrid: includes the RAFT stage it starts from
        "steps": summary.get("steps", 0),
        "trainable_params": trainable,
        "trainable_share": round(trainable / total, 5) if total else 0.0,
        "adapter_bytes": dir_bytes(adapter) if adapter else 0,
        "train_peak_rss_mb": rss.mb if summary else None,
    }


def evaluate_arm(
    cfg: RunConfig,
    arm: str,
    checkpoint: Path | None,
    run_dir: Path,
    fresh: dict[str, Any] | None,
    retrieval_s: float,
) -> dict[str, Any]:
    """Score one arm: held-out in both contexts (its own first), then the freshness sets in its own context."""
    own = primary_context(arm)
    other: Context = "retrieved" if own == "closed_book" else "closed_book"
    result: dict[str, Any] = {}
    with PeakRSS() as rss:
        heldout = evaluate(cfg, checkpoint, run_dir / "eval-heldout", context=own)
    result["heldout"] = _trim(heldout)
    result["inference_peak_rss_mb"] = rss.mb
    result["heldout_other_context"] = {
        "context": other,
        **_trim(evaluate(cfg, checkpoint, run_dir / f"eval-heldout-{other}", context=other)),
    }
    by_context = {
        own: heldout["seconds_per_question"],
        other: result["heldout_other_context"]["seconds_per_question"],
    }
    result["latency"] = {  # seconds per question, batched as in `eval.batch_size`
        "with_retrieval_s": round(by_context["retrieved"] + retrieval_s, 5),
        "without_retrieval_s": round(by_context["closed_book"], 5),
    }
    if fresh is not None:
        changed = _with(cfg, data={"corpus": fresh["corpus"]}, retrieval={"index_dir": fresh["index"]})
        result["freshness"] = {
            name: _trim(
                evaluate(
                    changed if corpus == "changed" else cfg,
                    checkpoint,
                    run_dir / f"eval-{name}",
                    data=fresh["sets"][name],
                    context=own,
                )
            )
            for name, corpus in FRESHNESS_SETS
        }
    return result


def _time_retrieval(cfg: RunConfig) -> tuple[float, float]:
    """(index load seconds, BM25 seconds per held-out question at the config's k, one batched call)."""
    start = time.time()
    retriever = load_retriever(cfg)
    loaded = time.time() - start
    questions = list(load_qa(cfg.data.eval)["question"])
    if cfg.data.max_eval_samples is not None:
        questions = questions[: cfg.data.max_eval_samples]
    start = time.time()
    retriever.retrieve(questions, k=cfg.retrieval.k, domains=cfg.retrieval.domains)
    return loaded, (time.time() - start) / max(1, len(questions))


def run_compare(
    cfg: RunConfig, out_dir: str | Path | None = None, *, overwrite: bool = False
) -> dict[str, Any]:
    """Run every configured arm, then write report.json, report.md and the PNG plots into the output folder."""
    from grpo_rag.plots import write_plots

    out = Path(out_dir) if out_dir else cfg.output_dir
    if (out / "report.json").exists() and not overwrite:
        raise ConfigError(
            f"--out: {out} holds a previous comparison; pass --overwrite or choose another --out"
        )
    out.mkdir(parents=True, exist_ok=True)
    wall = time.time()
    start = time.time()
    build_index(
        cfg.data.corpus,
        out / "index",
        stemmer=cfg.retrieval.stemmer,
        stopwords=cfg.retrieval.stopwords,
        show_progress=False,
    )
    index_seconds = time.time() - start
    cfg = _with(cfg, retrieval={"index_dir": str(out / "index")})
    write_atomic(out / "config.resolved.yaml", dump_config(cfg))
    load_seconds, retrieval_s = _time_retrieval(cfg)
    fresh = prepare_freshness(cfg, out / "freshness") if cfg.compare.freshness else None
    arms: dict[str, Any] = {}
    adapters: dict[str, Path] = {}
    for arm in cfg.compare.arms:
        run_dir = out / "arms" / arm
        print(f"\n=== compare: arm {arm} ({LABELS[arm]})", flush=True)
        with PeakRSS() as rss:
            summary = train_arm(cfg, arm, run_dir, adapters, overwrite)
        adapter = Path(summary["adapter"]) if summary else None
        if adapter is not None:
            adapters[arm] = adapter
        before = arms["raft"]["cost"]["train_seconds"] if arm == "hybrid" else 0.0
        arms[arm] = {
            "label": LABELS[arm],
            "context": primary_context(arm),
            "cost": _cost(summary, rss, adapter, before),
            **evaluate_arm(cfg, arm, adapter, run_dir, fresh, retrieval_s),
        }
    report = {
        "config": cfg.source,
        "model": cfg.model.name_or_path,
        "data": dataclasses.asdict(cfg.data),
        "settings": {
            "retrieval_k": cfg.retrieval.k,
            "sft_steps": cfg.compare.sft_steps,
            "sft_learning_rate": cfg.compare.sft_learning_rate,
            "sft_batch_size": cfg.compare.sft_batch_size,
            "grpo_steps": cfg.training.get("max_steps"),
            "grpo_learning_rate": cfg.training.get("learning_rate"),
            "lora_r": cfg.lora.r,
        },
        "retrieval": {
            "index_seconds": round(index_seconds, 3),
            "index_load_seconds": round(load_seconds, 3),
            "seconds_per_question": round(retrieval_s, 6),
        },
        "freshness": fresh,
        "arms": arms,
    }
    report["verdict"] = verdict_rows(report)
    report["wall_seconds"] = round(time.time() - wall, 1)
    report["plots"] = write_plots(report, out)
    write_atomic(out / "report.json", json.dumps(report, indent=2) + "\n")
    write_atomic(out / "report.md", report_markdown(report))
    return report


# --- report -------------------------------------------------------------------------------------------------
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
            f"{_diff(_em(A, 'heldout'), _em(B, 'heldout'))} EM on held-out "
            f"(F1 {_diff(A['heldout']['f1'], B['heldout']['f1'])})"
        ]
        if report["freshness"]:
            parts.append(f"{_diff(_em(A, 'updated_after'), _em(B, 'updated_after'))} on updated facts")
            parts.append(f"{_diff(_em(A, 'new_entities'), _em(B, 'new_entities'))} on new entities")
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
        for name, arm in arms.items():
            before, after = _em(arm, "updated_before"), _em(arm, "updated_after")
            rows.append(
                {
                    "kind": "freshness",
                    "a": name,
                    "text": f"{LABELS[name]}: {before:.3f} EM on the updated facts before the change, "
                    f"{after:.3f} after ({_diff(after, before)})",
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
        "| arm | context | n | EM | F1 | grounded | EM other context |",
        "|---|---|---|---|---|---|---|",
    ]
    for a in arms.values():
        h, o = a["heldout"], a["heldout_other_context"]
        lines.append(
            f"| {a['label']} | {a['context']} | {h['n']} | {_cell(h['exact_match'])} | {_cell(h['f1'])} | "
            f"{_cell(h['grounded'])} | {_cell(o['exact_match'])} ({o['context']}) |"
        )
    domains = sorted({d for a in arms.values() for d in a["heldout"]["per_domain"]})
    lines += [
        "",
        "## Held-out exact match per domain",
        "",
        "| arm | " + " | ".join(domains) + " |",
        "|---" * (len(domains) + 1) + "|",
    ]
    for a in arms.values():
        pd = a["heldout"]["per_domain"]
        lines.append(
            f"| {a['label']} | " + " | ".join(_cell(pd.get(d, {}).get("exact_match")) for d in domains) + " |"
        )
    fresh = report["freshness"]
    if fresh:
        lines += [
            "",
            "## Freshness: corpus changed, re-indexed, nothing retrained",
            "",
            f"{fresh['updated_passages']} training facts got new values and {fresh['added_passages']} passages "
            f"about new entities were added; re-indexing took {fresh['reindex_seconds']:.2f} s. "
            f"Updated facts: {fresh['updated_questions']} questions; new entities: "
            f"{fresh['new_entity_questions']} questions.",
            "",
            "| arm | updated facts, before (old corpus) | updated facts, after | new entities |",
            "|---|---|---|---|",
        ]
        for a in arms.values():
            f = a["freshness"]
            lines.append(
                f"| {a['label']} | "
                + " | ".join(_cell(f[n]["exact_match"]) for n, _ in FRESHNESS_SETS)
                + " |"
            )
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
