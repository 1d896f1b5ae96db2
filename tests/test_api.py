"""The public API (`import grpo_rag`): lazy names, and the README's Python example run as written."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

import grpo_rag

REPO = Path(__file__).resolve().parent.parent


def test_public_names_resolve() -> None:
    for name in grpo_rag.__all__:
        assert getattr(grpo_rag, name) is not None, name
    assert grpo_rag.load_config.__module__ == "grpo_rag.sections"


def test_import_grpo_rag_is_light() -> None:
    code = "import sys, grpo_rag; assert 'torch' not in sys.modules and 'datasets' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _readme_example() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    match = re.search(r"<!-- python-api-example -->\n```python\n(.*?)```", text, flags=re.S)
    assert match, "README.md lost its <!-- python-api-example --> block"
    return match.group(1)


def test_readme_example_runs(tmp_path: Path, tiny_run: dict[str, Any]) -> None:
    """The example runs verbatim in a folder laid out like the repo, with the tiny test model and data."""
    (tmp_path / "configs").mkdir()
    (tmp_path / "data" / "demo").mkdir(parents=True)
    corpus = Path(tiny_run["data"]["corpus"]).read_text(encoding="utf-8")
    (tmp_path / "data" / "demo" / "corpus.jsonl").write_text(corpus, encoding="utf-8")
    raw = json.loads(json.dumps(tiny_run))
    (tmp_path / "configs" / "quickstart.yaml").write_text(yaml.safe_dump(raw), encoding="utf-8")
    script = tmp_path / "example.py"
    script.write_text(_readme_example(), encoding="utf-8")
    out = subprocess.run(
        [sys.executable, str(script)], cwd=tmp_path, check=True, capture_output=True, text=True
    ).stdout
    first_hit, em, f1, *_ = out.strip().splitlines()[-1].split()  # the last line is the print()
    assert first_hit == "dc-03"  # "Diesel generators start within ten seconds ..."
    assert 0.0 <= float(em) <= 1.0 and 0.0 <= float(f1) <= 1.0
    assert (tmp_path / "runs/api-example/adapter/adapter_config.json").is_file()
    assert json.loads((tmp_path / "runs/api-example/eval/metrics.json").read_text())["n"] > 0
