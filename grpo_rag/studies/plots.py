"""PNG plots of a `grpo-rag compare` report (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grpo_rag.plotting import pyplot as _pyplot
from grpo_rag.plotting import save as _save


def _grouped_bars(ax: Any, groups: list[str], series: dict[str, list[float]]) -> None:
    """Bars for each series side by side within each group."""
    width = 0.8 / max(1, len(series))
    for i, (name, values) in enumerate(series.items()):
        xs = [g + (i - (len(series) - 1) / 2) * width for g in range(len(groups))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks(range(len(groups)))
    ax.set_xticklabels(groups)
    top = max((v for values in series.values() for v in values), default=0.0)
    ax.set_ylim(0, min(1.0, top * 1.25 + 0.05))  # small real-model scores stay readable
    ax.set_ylabel("exact match")
    ax.legend(fontsize=7)


def accuracy_by_domain(report: dict[str, Any], path: Path) -> Path:
    """Held-out exact match of each arm, overall and per domain."""
    plt = _pyplot()
    arms = report["arms"]
    domains = sorted({d for a in arms.values() for d in a["heldout"]["per_domain"]})
    series = {
        a["label"]: [a["heldout"]["exact_match"] or 0.0]
        + [(a["heldout"]["per_domain"].get(d, {}).get("exact_match") or 0.0) for d in domains]
        for a in arms.values()
    }
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * (len(domains) + 1)), 4))
    _grouped_bars(ax, ["all", *domains], series)
    ax.set_title("Held-out exact match by arm and domain")
    _save(fig, path)
    return path


def freshness(report: dict[str, Any], path: Path) -> Path:
    """Exact match before and after the corpus change (re-indexed, not retrained), per arm."""
    plt = _pyplot()
    arms = report["arms"]
    labels = [a["label"] for a in arms.values()]
    series = {
        legend: [
            (a["heldout"] if key == "heldout" else a["freshness"][key])["exact_match"] or 0.0
            for a in arms.values()
        ]
        for key, legend in [("heldout", "held-out"), *report["freshness"]["set_labels"].items()]
    }
    fig, ax = plt.subplots(figsize=(max(6, 1.8 * len(labels)), 4))
    _grouped_bars(ax, labels, series)
    ax.tick_params(axis="x", labelsize=7)
    ax.set_title("Before / after the corpus change (re-indexed, nothing retrained)")
    _save(fig, path)
    return path


def accuracy_vs_cost(report: dict[str, Any], path: Path) -> Path:
    """Held-out exact match against training minutes (including earlier stages an arm starts from)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    for a in report["arms"].values():
        x = a["cost"]["cumulative_train_seconds"] / 60
        y = a["heldout"]["exact_match"] or 0.0
        ax.scatter([x], [y], s=40)
        ax.annotate(a["label"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    ax.set_xlabel("training wall time (min)")
    ax.set_ylabel("held-out exact match")
    ax.set_ylim(0, 1)
    ax.set_title("Accuracy vs training cost")
    _save(fig, path)
    return path


def write_plots(report: dict[str, Any], out_dir: Path) -> list[str]:
    """Write the report's PNGs into `out_dir`; returns their paths (freshness only when it was measured)."""
    paths = [accuracy_by_domain(report, out_dir / "accuracy_by_domain.png")]
    if report.get("freshness"):
        paths.append(freshness(report, out_dir / "freshness.png"))
    paths.append(accuracy_vs_cost(report, out_dir / "accuracy_vs_cost.png"))
    return [str(p) for p in paths]
