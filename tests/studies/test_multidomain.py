"""The multi-domain study module end to end on the tiny fixture: router, shared + expert adapters, matrix."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import yaml


def test_study_runs_and_writes_its_report(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.studies.multidomain import main

    raw = copy.deepcopy(tiny_run)
    raw["training"]["output_dir"] = str(tmp_path / "study" / "experts" / "shared")
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert (
        main(["--config", str(config), "--run", str(tmp_path / "study"), "--expert-steps", "1", "--lenient"])
        == 0
    )
    study = json.loads((tmp_path / "study" / "report.json").read_text())
    steps = {name: summary["steps"] for name, summary in study["train"].items()}
    assert steps.pop("shared") == raw["training"]["max_steps"] == 2
    assert steps == {"datacenter": 1, "mobility": 1, "default": 0}  # default: one unanswerable question
    assert "EM / F1 lenient" in (tmp_path / "study" / "report.md").read_text()
    text = json.dumps(study)
    assert "experts:router" in text and "base" in text
    assert (tmp_path / "study" / "report.md").is_file() and (
        tmp_path / "study" / "cross_domain_f1.png"
    ).is_file()
    metrics = json.loads((tmp_path / "study" / "eval" / "experts-oracle" / "metrics.json").read_text())
    domains = {
        json.loads(line).get("domain", "default")
        for line in Path(raw["data"]["eval"]).read_text().splitlines()
    }
    assert metrics["n"] == 5 and set(metrics["adapters"]) <= {"shared", *domains}
