"""Quiet output: one bar per stage, library bars and logs only with --verbose, no known TRL notice."""

from __future__ import annotations

import copy
import io
import json
import re
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from grpo_rag.cli import main
from grpo_rag.progress import VERBOSE_ENV, set_verbose, stage, verbose

DEMO_CORPUS = Path(__file__).resolve().parents[1] / "data" / "demo" / "corpus.jsonl"


def _lines(text: str) -> list[str]:
    """What a terminal shows as separate lines: tqdm redraws with \\r, so split on both."""
    return [line for line in re.split(r"[\r\n]", text) if line.strip()]


@pytest.fixture(autouse=True)
def _quiet_after(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts quiet and leaves the libraries quiet (verbosity is process-wide state)."""
    monkeypatch.setenv(VERBOSE_ENV, "0")
    yield
    set_verbose(False)


def test_set_verbose_switches_library_bars() -> None:
    import datasets
    import transformers.utils.logging as tf_logging

    set_verbose(True)
    assert verbose() and datasets.is_progress_bar_enabled() and tf_logging.is_progress_bar_enabled()
    set_verbose(False)
    assert not verbose() and not datasets.is_progress_bar_enabled()
    assert not tf_logging.is_progress_bar_enabled()


def test_stage_bar_into_a_file_writes_few_lines_with_an_eta() -> None:
    out = io.StringIO()
    with stage("retrieve", total=1000, unit="q", file=out) as bar:
        for _ in range(1000):
            bar.update()
    lines = _lines(out.getvalue())
    assert 1 <= len(lines) <= 3, lines  # not one line per update
    assert lines[-1].startswith("retrieve: 100%") and "1000/1000" in lines[-1]
    assert re.search(r"\[\d\d:\d\d<\d\d:\d\d", lines[-1])  # elapsed<remaining


def test_index_stderr_is_a_handful_of_lines(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    assert main(["index", "--corpus", str(DEMO_CORPUS), "--out", str(tmp_path / "idx")]) == 0
    out, err = capfd.readouterr()
    assert "indexed 1800 passages" in out
    lines = _lines(err)
    assert len(lines) <= 4, lines
    assert all(line.startswith("index:") for line in lines), lines  # bm25s' own bars are off


def test_verbose_brings_library_bars_back(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    assert main(["--verbose", "index", "--corpus", str(DEMO_CORPUS), "--out", str(tmp_path / "idx")]) == 0
    err = capfd.readouterr().err
    assert "Split strings" in err and "BM25S" in err


def test_short_train_shows_stages_and_no_library_bars(
    tiny_run: dict[str, Any], tmp_path: Path, capfd: pytest.CaptureFixture
) -> None:
    raw = json.loads(json.dumps(tiny_run))
    raw["training"]["output_dir"] = str(tmp_path / "run")
    raw["prompt"] = {"max_tokens": 60}  # the prompt budget: the `prepare` stage has work to do
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["train", str(config)]) == 0
    out, err = capfd.readouterr()
    for library in ("examples/s", "Saving the dataset", "Loading weights", "Map", "Tokenizing"):
        assert library not in err + out, library
    for name in ("retrieve", "prepare", "train"):
        assert any(line.startswith(f"{name}: 100%") for line in _lines(err)), name
    assert "step 1/2 | reward" in out and "step 2/2 | reward" in out  # one summary line per logging step


def test_multi_turn_trainer_raises_no_experimental_notice(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.sections import from_dict
    from grpo_rag.training.grpo import build_trainer

    raw = copy.deepcopy(tiny_run)
    raw["training"].update(output_dir=str(tmp_path / "run"), max_completion_length=200)
    raw["rollout"] = {"mode": "multi_turn", "max_calls": 2, "k": 1}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        build_trainer(from_dict(raw))
    assert not [w for w in caught if "experimental" in str(w.message)], [str(w.message) for w in caught]
