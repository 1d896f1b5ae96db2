"""Training curves of a run as one PNG, drawn from its `metrics.jsonl` (what the trainer logged each step).

Panels (each only when the run logged it): reward mean ± std, each reward component, the share of sample
groups with a learning signal per domain, completion length, KL to the reference (TRL logs it only when
beta > 0), learning rate, seconds per step; supervised runs
(no reward) get their loss instead of the reward panels. `train` writes it at the end of a run, and
`grpo-rag plot RUN` redraws it from the file.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grpo_rag.errors import GrpoRagError
from grpo_rag.plotting import pyplot, save
from grpo_rag.training.run_dir import CURVES_FILE, METRICS_FILE, PLOTS_DIR


def read_metrics(run: Path) -> list[dict[str, Any]]:
    """The per-step rows of `run/metrics.jsonl` (the end-of-training summary row left out)."""
    path = Path(run) / METRICS_FILE
    if not path.is_file():
        raise GrpoRagError(
            f"{run}: no {METRICS_FILE}; is it a run folder written by `grpo-rag train` or `sft`?"
        )
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in rows if "train_runtime" not in r]


def _series(rows: list[dict[str, Any]], key: str) -> tuple[list[int], list[float]]:
    """Steps and finite values of `key` over the rows that logged it."""
    pairs = [
        (int(r["step"]), float(r[key]))
        for r in rows
        if isinstance(r.get(key), (int, float)) and math.isfinite(r[key])
    ]
    return [s for s, _ in pairs], [v for _, v in pairs]


def _reward(ax: Any, rows: list[dict[str, Any]]) -> None:
    steps, mean = _series(rows, "reward")
    std = dict(zip(*_series(rows, "reward_std"), strict=True))
    low = [m - std.get(s, 0.0) for s, m in zip(steps, mean, strict=True)]
    high = [m + std.get(s, 0.0) for s, m in zip(steps, mean, strict=True)]
    ax.fill_between(steps, low, high, alpha=0.25, label="± std over the batch's completions")
    ax.plot(steps, mean, marker=".", label="mean")
    ax.set(title="Reward (weighted sum)", ylabel="reward")
    ax.legend(fontsize=7)


def _components(ax: Any, rows: list[dict[str, Any]]) -> None:
    names = sorted({k[len("rewards/") : -len("/mean")] for r in rows for k in r if _is_component(k)})
    for name in names:
        ax.plot(*_series(rows, f"rewards/{name}/mean"), marker=".", label=name)
    ax.set(title="Reward components (unweighted means)", ylabel="reward")
    ax.legend(fontsize=7)


def _is_component(key: str) -> bool:
    return key.startswith("rewards/") and key.endswith("/mean")


#: Logged steps averaged in the signal panel: a step holds about one group per domain, so its raw share
#: is 0, 0.5 or 1 and only a moving average shows a trend.
SIGNAL_WINDOW = 10


def moving_average(values: list[float], window: int) -> list[float]:
    """Mean of each value and the up to `window - 1` values before it."""
    out = []
    for i in range(len(values)):
        part = values[max(0, i - window + 1) : i + 1]
        out.append(sum(part) / len(part))
    return out


def _signal(ax: Any, rows: list[dict[str, Any]]) -> None:
    domains = sorted({k[len("signal/") :] for r in rows for k in r if k.startswith("signal/")})
    steps, flat = _series(rows, "frac_reward_zero_std")
    if steps:
        every = moving_average([1.0 - v for v in flat], SIGNAL_WINDOW)
        ax.plot(steps, every, color="black", linewidth=2, label="all groups")
    for domain in domains:
        steps, share = _series(rows, f"signal/{domain}")
        ax.plot(steps, moving_average(share, SIGNAL_WINDOW), label=domain)
    ax.set(title=f"Groups with a signal ({SIGNAL_WINDOW}-log mean)", ylabel="share whose rewards differ")
    ax.set_ylim(0, 1.05)
    ax.legend(fontsize=7)


def _length(ax: Any, rows: list[dict[str, Any]]) -> None:
    steps, mean = _series(rows, "completions/mean_length")
    low, high = _series(rows, "completions/min_length")[1], _series(rows, "completions/max_length")[1]
    if len(low) == len(high) == len(steps):
        ax.fill_between(steps, low, high, alpha=0.2, label="min to max")
    ax.plot(steps, mean, marker=".", label="mean")
    ax.set(title="Completion length", ylabel="tokens")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)


def _simple(
    key: str, title: str, ylabel: str, sci: bool = False
) -> Callable[[Any, list[dict[str, Any]]], None]:
    def draw(ax: Any, rows: list[dict[str, Any]]) -> None:
        ax.plot(*_series(rows, key), marker=".")
        ax.set(title=title, ylabel=ylabel)
        if sci:
            ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))

    return draw


def _step_time(ax: Any, rows: list[dict[str, Any]]) -> None:
    ax.plot(*_series(rows, "step_time"), marker=".", label="whole step")
    if _series(rows, "time/generate_s")[0]:
        ax.plot(*_series(rows, "time/generate_s"), marker=".", linestyle="--", label="generating completions")
    ax.set(title="Step time", ylabel="seconds per step")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7)


#: (key that must be logged, panel drawer), in reading order.
_PANELS: tuple[tuple[str, Callable[[Any, list[dict[str, Any]]], None]], ...] = (
    ("reward", _reward),
    ("rewards/", _components),
    ("signal/", _signal),
    ("completions/mean_length", _length),
    ("kl", _simple("kl", "KL to the reference model", "KL (nats per token)")),
    ("loss", _simple("loss", "Training loss", "loss")),
    ("learning_rate", _simple("learning_rate", "Learning rate", "learning rate", sci=True)),
    ("step_time", _step_time),
)


def panels(rows: list[dict[str, Any]]) -> list[str]:
    """Names of the panels the rows call for (the keys of `_PANELS` that were logged), in reading order."""
    logged = {k for r in rows for k in r}
    out = []
    for key, _ in _PANELS:
        if key == "loss" and "reward" in logged:
            continue  # the GRPO loss says little on its own; the reward panels tell the story
        if (
            key in logged
            or (key == "rewards/" and any(_is_component(k) for k in logged))
            or (key == "signal/" and any(k.startswith("signal/") for k in logged))
        ):
            out.append(key)
    return out


def plot_curves(run: Path, out: Path | None = None) -> Path:
    """Draw the run's training curves into `out` (default `run/plots/training_curves.png`); returns the path."""
    run = Path(run)
    rows = read_metrics(run)
    by_key = dict(_PANELS)
    draws = [by_key[name] for name in panels(rows)]
    if not rows or not draws:
        raise GrpoRagError(f"{run / METRICS_FILE}: no logged training steps to plot")
    cols = 3 if len(draws) > 4 else 2
    nrows = -(-len(draws) // cols)
    plt = pyplot()
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    flat = [ax for row in axes for ax in row]
    for ax, draw in zip(flat, draws, strict=False):
        draw(ax, rows)
        ax.set_xlabel("training step")
        ax.grid(alpha=0.3)
    for ax in flat[len(draws) :]:
        ax.axis("off")
    fig.suptitle(f"{run.name}: {rows[-1]['step']} steps", fontsize=10)
    return save(fig, Path(out) if out else run / PLOTS_DIR / CURVES_FILE)


def draw_after_training(run: Path) -> Path | None:
    """The end-of-run picture; a failure to draw is reported in one line, never fails a finished run."""
    try:
        return plot_curves(run)
    except Exception as exc:  # the adapter is saved already: a missing font or odd metric must not undo that
        print(
            f"warning: training curves not drawn ({type(exc).__name__}: {exc}); retry with `grpo-rag plot {run}`"
        )
        return None
