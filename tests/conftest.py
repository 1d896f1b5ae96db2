"""Shared fixtures: a tiny two-domain corpus and QA set, as row lists and as JSONL files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_DATACENTER = [
    "Core routers forward packets between the spine switches and the internet uplinks.",
    "Each rack holds forty servers and two top-of-rack switches with redundant power.",
    "Chilled water cooling removes heat from the server halls through raised floor tiles.",
    "Diesel generators start within ten seconds when the utility grid fails.",
    "The uninterruptible power supply bridges the gap until the generators take the load.",
    "Fiber patch panels connect the meet-me room to tenant cages.",
    "Hot aisle containment keeps exhaust air away from the intake side of the racks.",
    "Biometric scanners and mantraps control entry to the secure data halls.",
    "Storage arrays replicate volumes synchronously to a second site forty kilometres away.",
    "Operators track power usage effectiveness, which compares facility power to IT power.",
]
_MOBILITY = [
    "Electric scooters are parked in marked zones near tram stops.",
    "The bike sharing scheme offers the first thirty minutes of every ride for free.",
    "Bus rapid transit lanes are separated from car traffic by a low kerb.",
    "Congestion charges apply to cars entering the city centre on weekdays.",
    "Park and ride sites let commuters leave cars at the edge of town.",
    "Night trams run every fifteen minutes on Fridays and Saturdays.",
    "Car sharing members unlock vehicles with a phone app.",
    "Cycle lanes on the ring road are protected by bollards.",
    "Ticket prices for buses and trams are capped at a daily maximum.",
    "Charging points for electric taxis are installed at the main railway station.",
]


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


@pytest.fixture
def tiny_corpus_rows() -> list[dict[str, Any]]:
    """Twenty passages: ten `datacenter` (with titles) and ten `mobility` (without)."""
    return corpus_rows()


def corpus_rows() -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {"id": f"dc-{i:02d}", "title": "Data centre handbook", "text": text, "domain": "datacenter"}
        for i, text in enumerate(_DATACENTER)
    ]
    rows += [{"id": f"mob-{i:02d}", "text": text, "domain": "mobility"} for i, text in enumerate(_MOBILITY)]
    return rows


@pytest.fixture
def tiny_qa_rows() -> list[dict[str, Any]]:
    """Questions with gold passages in the tiny corpus; one is unanswerable."""
    return qa_rows()


def qa_rows() -> list[dict[str, Any]]:
    return [
        {
            "id": "q1",
            "question": "How fast do the diesel generators start?",
            "answers": ["within ten seconds"],
            "domain": "datacenter",
            "gold_ids": ["dc-03"],
        },
        {
            "id": "q2",
            "question": "How many servers does each rack hold?",
            "answers": ["forty", "forty servers"],
            "domain": "datacenter",
            "gold_ids": ["dc-01"],
        },
        {
            "id": "q3",
            "question": "How long is a bike ride free?",
            "answers": ["thirty minutes"],
            "domain": "mobility",
            "gold_ids": ["mob-01"],
        },
        {
            "id": "q4",
            "question": "How often do night trams run?",
            "answers": ["every fifteen minutes"],
            "domain": "mobility",
            "gold_ids": ["mob-05"],
        },
        {"id": "q5", "question": "What colour are the scooters?", "answers": [], "answerable": False},
    ]


@pytest.fixture
def tiny_corpus_path(tmp_path: Path, tiny_corpus_rows: list[dict[str, Any]]) -> Path:
    return _write_jsonl(tmp_path / "corpus.jsonl", tiny_corpus_rows)


@pytest.fixture
def tiny_qa_path(tmp_path: Path, tiny_qa_rows: list[dict[str, Any]]) -> Path:
    return _write_jsonl(tmp_path / "qa.jsonl", tiny_qa_rows)


TINY_MODEL = {
    "vocab_size": 400,
    "hidden_size": 32,
    "num_layers": 2,
    "num_heads": 2,
    "intermediate_size": 64,
    "sft_steps": 3,
    "sft_batch_size": 4,
}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A 20-passage corpus, QA files and a bootstrapped tiny model (built once per test session).

    Returns the raw config mapping (paths filled in); tests copy it and point `training.output_dir`
    at their own tmp dir.
    """
    from grpo_rag.demo.bootstrap import bootstrap
    from grpo_rag.sections import from_dict

    root = tmp_path_factory.mktemp("tiny_run")
    _write_jsonl(root / "corpus.jsonl", corpus_rows())
    _write_jsonl(root / "qa.jsonl", qa_rows())
    raw: dict[str, Any] = {
        "model": {"name_or_path": str(root / "model"), "dtype": "float32"},  # the same on every CPU
        "lora": {"r": 4, "alpha": 8},
        "data": {
            "corpus": str(root / "corpus.jsonl"),
            "train": str(root / "qa.jsonl"),
            "eval": str(root / "qa.jsonl"),
        },
        "retrieval": {"k": 2},
        # text_hash varies between completions, so an untrained model still gets a learning signal.
        "rewards": [
            {"name": "exact_match"},
            {"name": "format", "weight": 0.5},
            {"name": f"{Path(__file__).parent / 'plugins.py'}:text_hash", "weight": 0.1},
        ],
        "bootstrap": dict(TINY_MODEL),
        "training": {
            "output_dir": str(root / "run"),
            "learning_rate": 0.05,
            "per_device_train_batch_size": 4,
            "num_generations": 2,
            "max_completion_length": 6,
            "max_steps": 2,
            "logging_steps": 1,
            "save_steps": 1,
        },
        "eval": {"max_new_tokens": 6, "batch_size": 8},
    }
    bootstrap(from_dict(raw))
    return raw


@pytest.fixture
def prepared_row() -> Callable[..., dict[str, Any]]:
    """Factory of one prepared row (prompt, passages, ids) whose gold passage states `answer`."""
    from grpo_rag.pipeline.prepare import PromptOptions

    def make(answer: str = "57 degrees") -> dict[str, Any]:
        passages = [f"The tilt of Ab-Cd is {answer}.", "The tilt of Ab-Ef is 12 degrees."]
        options = PromptOptions(instructions="Short.")
        return {
            "question": "What is the tilt of Ab-Cd?",
            "answers": [answer],
            "gold_ids": ["g"],
            "passage_ids": ["g", "x"],
            "passages": passages,
            "passage_titles": ["", ""],
            "answerable": True,
            "prompt": options.render("What is the tilt of Ab-Cd?", passages, ["", ""]),
        }

    return make
