"""The `plot` and `report` subcommands (registered by grpo_rag/cli.py; their logic lives in this package)."""

from __future__ import annotations

import argparse
import contextlib
from pathlib import Path

from grpo_rag.errors import GrpoRagError


def _cmd_plot(args: argparse.Namespace) -> None:
    from grpo_rag.reporting.plots import plot_run

    for path in plot_run(Path(args.run)):
        print(f"wrote {path}")


def _cmd_report(args: argparse.Namespace) -> None:
    path = report_run(Path(args.run))
    print(path.read_text(encoding="utf-8"))
    print(f"wrote {path}")


def report_run(run: Path) -> Path:
    """Redraw the run's plots (so the report's links hold), then write `RUN/run_report.md`; returns its path."""
    from grpo_rag.reporting.plots import plot_run
    from grpo_rag.reporting.run_report import write_report

    if not run.is_dir():
        raise GrpoRagError(f"{run}: no such run folder")
    with contextlib.suppress(GrpoRagError):  # nothing to plot yet: the report says so
        plot_run(run)
    return write_report(run)


def add_commands(sub: argparse._SubParsersAction, example: dict[str, str]) -> None:
    """Register `plot RUN` and `report RUN`; `example` maps a command to the example line of its --help."""
    p = sub.add_parser(
        "plot",
        help="draw a run's training curves and per-domain eval bars (PNG, into RUN/plots/)",
        epilog=f"example: {example['plot']}",
    )
    p.add_argument("run", help="run folder (training.output_dir)")
    p.set_defaults(func=_cmd_plot)
    p = sub.add_parser(
        "report",
        help="write RUN/run_report.md: config, adapter size, steps and time, eval tables, plots",
        epilog=f"example: {example['report']}",
    )
    p.add_argument("run", help="run folder (training.output_dir)")
    p.set_defaults(func=_cmd_report)
