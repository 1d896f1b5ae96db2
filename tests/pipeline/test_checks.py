"""Data checks before a run: long passages, prompts over the window, answers in no gold passage, index settings."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from datasets import Dataset

from grpo_rag.errors import ConfigError
from grpo_rag.pipeline.checks import LONG_PASSAGE_TOKENS, answers_in_gold, check_prompts, model_window


def test_answers_in_gold_judges_only_what_can_be_judged() -> None:
    answers = [["9 bar"], ["9 bar"], ["yes"], [], ["42"], ["The Pump"]]
    gold = [["Opens at 9 BAR."], ["9 barrels"], ["no text"], ["x"], [], ["a pump!"]]
    assert answers_in_gold(answers, gold) == [True, False, None, None, None, True]


@pytest.fixture
def tok(tiny_run: dict[str, Any]) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_run["model"]["name_or_path"])


def test_check_prompts_warns_with_figures(tok: Any) -> None:
    long = "pump " * (LONG_PASSAGE_TOKENS + 50)
    before = Dataset.from_dict({"passages": [[long, "short"], ["short"]], "prompt": ["a", "b"]})
    after = Dataset.from_dict(
        {"passages": [["x"], ["y"]], "prompt": ["a", "b"], "answer_in_gold": [False, True]}
    )
    lines = check_prompts(
        before, after, tok, window=100, completion_tokens=20, prompt_lengths=[90, 10], what="eval"
    )
    assert len(lines) == 3
    assert lines[0].startswith("warning: 1 of 3 passages in the eval are over 512 tokens")
    assert "grpo-rag ingest --chunk-tokens" in lines[0]
    assert lines[1].startswith(
        "warning: 1 of 2 eval (50%) plus 20 completion tokens exceed the model's window of 100"
    )
    assert "prompt.max_tokens to at most 80" in lines[1]
    assert lines[2].startswith("warning: in 1 of 2 eval (50%) no answer occurs in a gold passage")


def test_check_prompts_quiet_when_all_fits(tok: Any) -> None:
    data = Dataset.from_dict({"passages": [["short"]], "prompt": ["a"], "answer_in_gold": [None]})
    assert check_prompts(data, data, tok, window=100, completion_tokens=5, prompt_lengths=[10]) == []


def test_model_window_reads_the_config(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    assert isinstance(model_window(tiny_run["model"]["name_or_path"]), int)
    assert model_window(str(tmp_path / "no-model")) is None


def test_index_with_other_stemmer_is_refused(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.pipeline.prepare import load_retriever
    from grpo_rag.retrieval.bm25 import build_index
    from grpo_rag.sections import from_dict

    raw = copy.deepcopy(tiny_run)
    build_index(raw["data"]["corpus"], tmp_path / "idx", stemmer=None, show_progress=False)
    raw["retrieval"] = {"k": 2, "index_dir": str(tmp_path / "idx")}
    with pytest.raises(
        ConfigError, match=r"retrieval.stemmer: the config says english, but the index .* built with None"
    ):
        load_retriever(from_dict(raw))
    raw["retrieval"]["stemmer"] = None
    assert len(load_retriever(from_dict(raw))) == 20


def test_reachable_drops_only_questions_whose_answer_no_passage_shows() -> None:
    from datasets import Dataset

    from grpo_rag.pipeline.checks import reachable

    rows = Dataset.from_dict(
        {
            "answers": [["ten seconds"], ["forty"], ["yes"], [], ["forty"]],
            "passages": [["Start within ten seconds."], ["Racks hold fifty."], ["No label here."], ["x"], []],
        }
    )
    # answer shown / answer absent / a yes-no label / an abstention / no passages (closed-book or search)
    assert reachable(rows) == [True, False, True, True, True]
