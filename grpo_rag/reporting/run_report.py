"""`grpo-rag report RUN`: one Markdown page that says what a run did (written to `RUN/run_report.md`).

Everything comes from files the run wrote: `config.resolved.yaml`, `train_summary.json`, `metrics.jsonl`,
the adapter, and every evaluation's `metrics.json` below the folder; missing pieces are said to be missing.
"""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

import yaml

from grpo_rag.errors import GrpoRagError
from grpo_rag.reporting.evals import EVAL_PLOT, find_evals, headline
from grpo_rag.training.run_dir import (
    ADAPTER_DIR,
    CURVES_FILE,
    METRICS_FILE,
    PLOTS_DIR,
    REPORT_FILE,
    RESOLVED_CONFIG,
    TENSORBOARD_DIR,
)

#: `training` keys the summary shows (any others are in config.resolved.yaml).
_TRAINING_KEYS = (
    "learning_rate",
    "per_device_train_batch_size",
    "num_generations",
    "max_completion_length",
    "max_steps",
    "beta",
    "temperature",
    "seed",
    "report_to",
)


def _json(path: Path) -> dict[str, Any] | None:
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def adapter_size(adapter: Path) -> dict[str, Any] | None:
    """Bytes on disk and LoRA parameters of `adapter/adapter_model.safetensors` (read from its header only)."""
    weights = adapter / "adapter_model.safetensors"
    if not weights.is_file():
        return None
    with weights.open("rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    params = 0
    for name, info in header.items():
        if name != "__metadata__":
            count = 1
            for dim in info["shape"]:
                count *= dim
            params += count
    config = _json(adapter / "adapter_config.json") or {}
    return {
        "bytes": weights.stat().st_size,
        "parameters": params,
        "r": config.get("r"),
        "alpha": config.get("lora_alpha"),
        "target_modules": config.get("target_modules"),
    }


def _config_lines(config: dict[str, Any] | None) -> list[str]:
    if config is None:
        return [f"- no {RESOLVED_CONFIG} in the folder (not a `grpo-rag train` run?)"]
    model, lora, data = config.get("model", {}), config.get("lora", {}), config.get("data", {})
    training, retrieval = config.get("training", {}), config.get("retrieval", {})
    rewards = ", ".join(f"{r.get('name')} x{r.get('weight', 1.0)}" for r in config.get("rewards", []))
    lines = [
        f"- model: `{model.get('name_or_path')}` (dtype {model.get('dtype')})",
        f"- LoRA: r={lora.get('r')}, alpha={lora.get('alpha')}, targets {lora.get('target_modules')}"
        + (f", continuing `{lora['init_adapter']}`" if lora.get("init_adapter") else ""),
        f"- data: train `{data.get('train')}` (at most {data.get('max_train_samples')}), "
        f"eval `{data.get('eval')}`, corpus `{data.get('corpus')}`",
        f"- retrieval: k={retrieval.get('k')}; rollout: {config.get('rollout', {}).get('mode', 'single')}",
        f"- rewards: {rewards or 'none recorded'}",
        "- training: " + ", ".join(f"{k}={training[k]}" for k in _TRAINING_KEYS if k in training),
    ]
    return lines


def _training_lines(run: Path, summary: dict[str, Any] | None, size: dict[str, Any] | None) -> list[str]:
    lines = []
    if size:
        lines.append(
            f"- adapter: `{run / ADAPTER_DIR}`, {size['bytes']:,} bytes ({size['bytes'] / 2**20:.1f} MiB), "
            f"{size['parameters']:,} LoRA parameters (r={size['r']}, alpha={size['alpha']})"
        )
    else:
        lines.append(f"- adapter: none in `{run / ADAPTER_DIR}`")
    if not summary:
        return [*lines, "- no train_summary.json: the run did not finish (or is not a training run)"]
    trainable, total = summary.get("trainable_params"), summary.get("total_params")
    if trainable and total:
        lines.append(f"- trainable: {trainable:,} of {total:,} parameters ({100 * trainable / total:.2f}%)")
    steps, seconds = summary.get("steps") or 0, summary.get("train_seconds") or 0.0
    per_step = f", {seconds / steps:.1f} s/step" if steps else ""
    lines.append(f"- steps: {steps}, wall time {seconds:.0f} s ({seconds / 60:.1f} min){per_step}")
    if summary.get("resumed_from"):
        lines.append(f"- resumed from `{summary['resumed_from']}`")
    if summary.get("truncated_prompts"):
        lines.append(f"- prompts cut to the prompt budget: {summary['truncated_prompts']}")
    rewards = [r["reward"] for r in _metric_rows(run) if isinstance(r.get("reward"), (int, float))]
    if len(rewards) >= 2:
        n = max(1, len(rewards) // 5)
        first, last = sum(rewards[:n]) / n, sum(rewards[-n:]) / n
        lines.append(f"- reward: {first:.3f} over the first {n} logged steps -> {last:.3f} over the last {n}")
    return lines


def _metric_rows(run: Path) -> list[dict[str, Any]]:
    path = run / METRICS_FILE
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _eval_tables(evals: list[tuple[str, dict[str, Any]]]) -> list[str]:
    if not evals:
        return ["No evaluations below this folder (`grpo-rag eval CONFIG --checkpoint RUN` writes one)."]
    head = "| evaluation | passages | n | EM | F1 | strict EM | well-formed | recall@k |"
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for name, m in evals:
        f1 = m.get("lenient_f1", m.get("f1"))
        cells = [
            f"[{name}]({name}/report.md)",
            str(m.get("context", "")),
            str(m.get("n", "")),
            f"{headline(m)[1]:.3f}",
            "" if f1 is None else f"{f1:.3f}",
            _fmt(m.get("exact_match")),
            _fmt(m.get("well_formed")),
            _fmt(m.get("recall_at_k")),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    domains = sorted({d for _, m in evals for d in m["per_domain"]})
    lines += ["", "Exact match per domain:", ""]
    lines += ["| evaluation | " + " | ".join(domains) + " |", "|---" * (len(domains) + 1) + "|"]
    for name, m in evals:
        cells = [_fmt(headline(m["per_domain"][d])[1]) if d in m["per_domain"] else "-" for d in domains]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines += ["", "EM and F1 are lenient where recorded (untagged answers count); strict EM needs the tags."]
    return lines


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, (int, float)) else "-"


def build_report(run: Path) -> str:
    """The Markdown text of the run's report."""
    run = Path(run)
    if not run.is_dir():
        raise GrpoRagError(f"{run}: no such run folder")
    config_path = run / RESOLVED_CONFIG
    config = yaml.safe_load(config_path.read_text(encoding="utf-8")) if config_path.is_file() else None
    summary = _json(run / "train_summary.json")
    evals = find_evals(run)
    parts = [f"# Run report: `{run}`", "", "## Configuration", "", *_config_lines(config)]
    parts += ["", "## Training", "", *_training_lines(run, summary, adapter_size(run / ADAPTER_DIR))]
    parts += ["", "## Evaluations", "", *_eval_tables(evals), "", "## Plots", ""]
    plots = [(CURVES_FILE, "Training curves"), (EVAL_PLOT, "Exact match by evaluation and domain")]
    found = [(f"{PLOTS_DIR}/{name}", title) for name, title in plots if (run / PLOTS_DIR / name).is_file()]
    parts += [f"![{title}]({rel})" for rel, title in found] or [f"No plots yet: `grpo-rag plot {run}`."]
    if (run / TENSORBOARD_DIR).is_dir():
        parts += ["", f"TensorBoard events: `tensorboard --logdir {run / TENSORBOARD_DIR}`"]
    return "\n".join(parts) + "\n"


def write_report(run: Path) -> Path:
    """Write `RUN/run_report.md` and return its path."""
    path = Path(run) / REPORT_FILE
    path.write_text(build_report(run), encoding="utf-8")
    return path
