"""The evaluations found under a run folder (any `metrics.json` with per-domain results) and their bar chart."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from grpo_rag.plotting import pyplot, save
from grpo_rag.training.run_dir import PLOTS_DIR

EVAL_PLOT = "eval_by_domain.png"


def find_evals(run: Path) -> list[tuple[str, dict[str, Any]]]:
    """(folder relative to the run, metrics) of every evaluation below `run`, sorted by folder name.

    Checkpoints and the prepared-data cache are skipped; files that are not evaluation metrics (no
    `per_domain`) are too, so study reports next to them do not get in.
    """
    run = Path(run)
    found = []
    for path in sorted(run.rglob("metrics.json")):
        rel = path.parent.relative_to(run)
        if any(part.startswith(("checkpoint-", "prepared-", ".")) for part in rel.parts):
            continue
        try:
            metrics = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(metrics, dict) and isinstance(metrics.get("per_domain"), dict):
            found.append((rel.as_posix() or ".", metrics))
    return found


def headline(metrics: dict[str, Any]) -> tuple[str, float]:
    """The exact-match figure to show: lenient (untagged answers count) where recorded, else strict."""
    if metrics.get("lenient_exact_match") is not None:
        return "lenient_exact_match", float(metrics["lenient_exact_match"])
    return "exact_match", float(metrics.get("exact_match") or 0.0)


def plot_evals(run: Path, evals: list[tuple[str, dict[str, Any]]], out: Path | None = None) -> Path:
    """Exact match of each evaluation, overall and per domain, as grouped bars (`run/plots/eval_by_domain.png`)."""
    domains = sorted({d for _, m in evals for d in m["per_domain"]})
    groups = ["all", *domains]
    plt = pyplot()
    bars = len(groups) * len(evals)
    fig, ax = plt.subplots(figsize=(min(12.0, max(7.0, 0.3 * bars + 3)), 4))
    top = 0.0
    width = 0.8 / max(1, len(evals))
    lenient = all(headline(m)[0] == "lenient_exact_match" for _, m in evals)
    for i, (name, m) in enumerate(evals):
        values = [headline(m)[1]] + [headline(m["per_domain"].get(d, {}))[1] for d in domains]
        xs = [g + (i - (len(evals) - 1) / 2) * width for g in range(len(groups))]
        ctx = m.get("context", "")
        drawn = ax.bar(xs, values, width, label=f"{name} ({ctx}, n={m.get('n', '?')})")
        if bars <= 40:  # the figures on the bars, while they still fit
            ax.bar_label(drawn, fmt="%.2f", fontsize=6, padding=1)
        top = max(top, *values)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    ax.set_ylim(0, min(1.0, top * 1.15 + 0.05))
    ax.set_ylabel("exact match (lenient)" if lenient else "exact match")
    ax.set_xlabel("domain")
    ax.set_title(f"{Path(run).resolve().name}: held-out exact match by evaluation and domain")
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return save(fig, out or Path(run) / PLOTS_DIR / EVAL_PLOT)
