"""`grpo-rag plot RUN` and `grpo-rag report RUN` on a tiny trained and evaluated run."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from grpo_rag.cli import main
from grpo_rag.reporting.run_report import adapter_size


@pytest.fixture
def trained(tiny_run: dict[str, Any], tmp_path: Path) -> Path:
    """A 2-step run with two evaluations below it (retrieved and closed-book)."""
    raw = json.loads(json.dumps(tiny_run))
    raw["training"]["output_dir"] = str(tmp_path / "run")
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    run = tmp_path / "run"
    assert main(["train", str(config)]) == 0
    assert main(["eval", str(config), "--checkpoint", str(run), "--out", str(run / "eval")]) == 0
    closed = [
        "eval",
        str(config),
        "--checkpoint",
        str(run),
        "--closed-book",
        "--out",
        str(run / "eval-closed"),
    ]
    assert main(closed) == 0
    return run


def test_report_says_what_the_run_did(trained: Path, capsys: pytest.CaptureFixture) -> None:
    capsys.readouterr()
    assert main(["report", str(trained)]) == 0
    out = capsys.readouterr().out
    text = (trained / "run_report.md").read_text()
    assert text in out and f"wrote {trained / 'run_report.md'}" in out
    summary = json.loads((trained / "train_summary.json").read_text())
    weights = trained / "adapter" / "adapter_model.safetensors"
    assert f"{weights.stat().st_size:,} bytes" in text
    assert f"{summary['trainable_params']:,} LoRA parameters" in text  # a fresh adapter: all of it trains
    share = 100 * summary["trainable_params"] / summary["total_params"]
    assert f"of {summary['total_params']:,} parameters ({share:.2f}%)" in text
    assert re.search(r"- steps: 2, wall time \d+ s \([\d.]+ min\), [\d.]+ s/step", text)
    assert "- rewards: exact_match x1.0, format x0.5" in text
    for name, context in (("eval", "retrieved"), ("eval-closed", "closed_book")):
        m = json.loads((trained / name / "metrics.json").read_text())
        assert f"| [{name}]({name}/report.md) | {context} | {m['n']} |" in text
    assert "| evaluation | datacenter | default | mobility |" in text  # the per-domain table
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", text):
        assert (trained / link).is_file(), link
    assert "plots/training_curves.png" in text and "plots/eval_by_domain.png" in text


def test_plot_command_draws_curves_and_eval_bars(trained: Path, capsys: pytest.CaptureFixture) -> None:
    (trained / "plots").rename(trained / "plots-from-train")  # train drew the curves; plot redraws them
    capsys.readouterr()
    assert main(["plot", str(trained)]) == 0
    out = capsys.readouterr().out
    for name in ("training_curves.png", "eval_by_domain.png"):
        assert f"wrote {trained / 'plots' / name}" in out
        assert (trained / "plots" / name).read_bytes()[:4] == b"\x89PNG"


def test_adapter_size_reads_the_safetensors_header(trained: Path) -> None:
    from safetensors.torch import load_file

    size = adapter_size(trained / "adapter")
    assert size is not None
    assert size["parameters"] == sum(
        t.numel() for t in load_file(trained / "adapter" / "adapter_model.safetensors").values()
    )
    assert size["r"] == 4 and size["alpha"] == 8


def test_plot_and_report_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["plot", str(tmp_path / "missing")]) == 2
    assert capsys.readouterr().err.strip() == f"error: {tmp_path / 'missing'}: no such run folder"
    assert main(["plot", str(tmp_path)]) == 2
    assert "nothing to plot" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 0  # an empty folder: the report says what is missing
    text = (tmp_path / "run_report.md").read_text()
    assert "no config.resolved.yaml" in text and "No evaluations" in text and "No plots yet" in text
