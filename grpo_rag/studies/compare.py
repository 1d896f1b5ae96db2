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

from grpo_rag.config import RunConfig, dump_config, replace_sections
from grpo_rag.data.io import load_qa, write_atomic
from grpo_rag.errors import ConfigError
from grpo_rag.evaluation.evaluate import evaluate
from grpo_rag.evaluation.paired import question_scores
from grpo_rag.pipeline.prepare import Context, load_retriever
from grpo_rag.retrieval.bm25 import build_index
from grpo_rag.rss_probe import PeakRSS, dir_bytes
from grpo_rag.studies.compare_freshness import prepare_freshness
from grpo_rag.studies.compare_report import LABELS, report_markdown, verdict_rows
from grpo_rag.studies.settings import SECTION, CompareConfig
from grpo_rag.training.grpo import train
from grpo_rag.training.sft import SFTOptions, train_sft

#: Metrics copied from each evaluation into the report (the full metrics.json stays in the arm's folder).
KEPT = ("n", "exact_match", "f1", "grounded", "citation_precision", "seconds_per_question")


def compare_settings(cfg: RunConfig) -> CompareConfig:
    """The run's `compare` section (its defaults when the YAML has none)."""
    return cfg.section(SECTION, CompareConfig)


def primary_context(arm: str) -> Context:
    """The prompts an arm is meant to be used with: no passages for closed-book FT, BM25 for the rest."""
    return "closed_book" if arm == "closed_book_ft" else "retrieved"


def _with(cfg: RunConfig, **sections: dict[str, Any]) -> RunConfig:
    """A copy of `cfg` with some fields of some sections replaced (validated again at load)."""
    return replace_sections(cfg, **sections)


def _trim(metrics: dict[str, Any], lenient: bool = False) -> dict[str, Any]:
    """The report's figures of one evaluation; with `lenient`, EM / F1 are the lenient ones (strict kept too)."""

    def pick(m: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
        row = {k: m.get(k) for k in keys}
        if lenient:
            row["strict_exact_match"] = m.get("exact_match")
            row["exact_match"], row["f1"] = m.get("lenient_exact_match"), m.get("lenient_f1")
        return row

    out = pick(metrics, KEPT)
    out["per_domain"] = {
        d: pick(m, tuple(k for k in KEPT if k != "seconds_per_question"))
        for d, m in metrics.get("per_domain", {}).items()
    }
    return out


# --- arms ---------------------------------------------------------------------------------------------------
def train_arm(
    cfg: RunConfig, arm: str, run_dir: Path, adapters: dict[str, Path], overwrite: bool
) -> dict[str, Any]:
    """Train one arm into `run_dir` with the toolkit's trainers; returns its training summary ({} for rag)."""
    cc = compare_settings(cfg)
    seed = int(cfg.training.get("seed", 0))
    if arm == "rag":
        return {}
    if arm in ("closed_book_ft", "raft"):
        settings = SFTOptions(
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
    lenient = compare_settings(cfg).score == "lenient"
    result: dict[str, Any] = {}
    with PeakRSS() as rss:
        heldout = evaluate(cfg, checkpoint, run_dir / "eval-heldout", context=own)
    result["heldout"] = _trim(heldout, lenient)
    result["heldout_scores"] = question_scores(run_dir / "eval-heldout", lenient)
    result["inference_peak_rss_mb"] = rss.mb
    result["heldout_other_context"] = {
        "context": other,
        **_trim(evaluate(cfg, checkpoint, run_dir / f"eval-heldout-{other}", context=other), lenient),
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
        corpora = {
            "changed": _with(cfg, data={"corpus": fresh["corpus"]}, retrieval={"index_dir": fresh["index"]}),
            "original": _with(
                cfg,
                data={"corpus": fresh["original_corpus"]},
                retrieval={"index_dir": fresh["original_index"]},
            ),
        }
        result["freshness"] = {
            name: _trim(
                evaluate(
                    corpora[corpus],
                    checkpoint,
                    run_dir / f"eval-{name}",
                    data=fresh["sets"][name],
                    context=own,
                ),
                lenient,
            )
            for name, corpus in fresh["set_corpus"].items()
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
    from grpo_rag.studies.plots import write_plots

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
    fresh = prepare_freshness(cfg, out / "freshness") if compare_settings(cfg).freshness else None
    train_cfg = cfg  # documents freshness: the arms train without the documents that arrive later
    if fresh is not None and fresh["kind"] == "documents":
        train_cfg = _with(
            cfg, data={"corpus": fresh["train_corpus"]}, retrieval={"index_dir": fresh["train_index"]}
        )
    arms: dict[str, Any] = {}
    adapters: dict[str, Path] = {}
    for arm in compare_settings(cfg).arms:
        run_dir = out / "arms" / arm
        print(f"\n=== compare: arm {arm} ({LABELS[arm]})", flush=True)
        with PeakRSS() as rss:
            summary = train_arm(train_cfg, arm, run_dir, adapters, overwrite)
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
            "sft_steps": compare_settings(cfg).sft_steps,
            "sft_learning_rate": compare_settings(cfg).sft_learning_rate,
            "sft_batch_size": compare_settings(cfg).sft_batch_size,
            "grpo_steps": cfg.training.get("max_steps"),
            "grpo_learning_rate": cfg.training.get("learning_rate"),
            "lora_r": cfg.lora.r,
            "score": compare_settings(cfg).score,
            "bootstrap_samples": compare_settings(cfg).bootstrap_samples,
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
