"""`grpo-rag plot RUN`: every picture of a run folder, redrawn from what the run wrote."""

from __future__ import annotations

from pathlib import Path

from grpo_rag.errors import GrpoRagError
from grpo_rag.reporting.evals import find_evals, plot_evals
from grpo_rag.training.curves import plot_curves
from grpo_rag.training.run_dir import METRICS_FILE


def plot_run(run: Path) -> list[Path]:
    """Training curves (when the run has metrics.jsonl) and the per-domain eval bars (when it has evals)."""
    run = Path(run)
    if not run.is_dir():
        raise GrpoRagError(f"{run}: no such run folder")
    paths = []
    if (run / METRICS_FILE).is_file():
        paths.append(plot_curves(run))
    evals = find_evals(run)
    if evals:
        paths.append(plot_evals(run, evals))
    if not paths:
        raise GrpoRagError(f"{run}: nothing to plot (no {METRICS_FILE} and no eval metrics.json below it)")
    return paths
