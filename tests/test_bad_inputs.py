"""Bad input through the CLI: one `error:` line naming file / line / field, exit status 2, nothing written."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from grpo_rag.cli import main

Setup = Callable[[Path, dict[str, Any]], None]


def _set(section: str, **values: Any) -> Setup:
    def apply(root: Path, raw: dict[str, Any]) -> None:
        raw.setdefault(section, {}).update(values)

    return apply


def _raw(value: Any) -> Setup:
    def apply(root: Path, raw: dict[str, Any]) -> None:
        raw.update(value)

    return apply


def _qa_file(content: bytes) -> Setup:
    def apply(root: Path, raw: dict[str, Any]) -> None:
        (root / "bad_qa.jsonl").write_bytes(content)
        raw["data"]["train"] = str(root / "bad_qa.jsonl")

    return apply


def _corpus_file(content: bytes) -> Setup:
    def apply(root: Path, raw: dict[str, Any]) -> None:
        (root / "bad_corpus.jsonl").write_bytes(content)
        raw["data"]["corpus"] = str(root / "bad_corpus.jsonl")

    return apply


def _index(damage: str) -> Setup:
    def apply(root: Path, raw: dict[str, Any]) -> None:
        other = root / "other.jsonl"
        other.write_text(json.dumps({"id": "x", "text": "another corpus entirely"}) + "\n")
        source = other if damage == "other corpus" else Path(raw["data"]["corpus"])
        assert main(["index", "--corpus", str(source), "--out", str(root / "idx")]) == 0
        if damage == "truncated":
            biggest = max(
                (p for p in (root / "idx").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size
            )
            biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])
        raw["retrieval"]["index_dir"] = str(root / "idx")

    return apply


Q = {"id": "n1", "question": "Q?", "answers": ["a"]}
CASES: list[tuple[str, Setup, str]] = [
    # config
    ("unknown key", _set("retrieval", kk=3), "retrieval: unknown key 'kk' (did you mean 'k'?)"),
    ("unknown section", _raw({"rewardz": []}), "unknown key 'rewardz' (did you mean 'rewards'?)"),
    ("wrong type", _set("retrieval", k="three"), "retrieval.k: expected int, got 'three'"),
    ("negative k", _set("retrieval", k=-1), "retrieval.k: expected a positive integer"),
    ("per-domain k zero", _set("retrieval", per_domain_k={"mobility": 0}), "retrieval.per_domain_k.mobility"),
    ("bad lora rank", _set("lora", r=0), "lora.r: expected a positive integer"),
    ("bad dtype", _set("model", dtype="int3"), "model.dtype: expected one of"),
    ("missing model", _set("model", name_or_path="models/nope"), "is not a directory"),
    ("unknown GRPO field", _set("training", learning_rat=0.1), "did you mean 'learning_rate'?"),
    ("non-numeric lr", _set("training", learning_rate="fast"), "training.learning_rate: expected a number"),
    (
        "generations do not divide batch",
        _set("training", per_device_train_batch_size=3, num_generations=2),
        "training:",
    ),
    ("reward weight list", _set("training", reward_weights=[1.0, 2.0]), "set the weight on each entry"),
    ("unknown reward", _raw({"rewards": [{"name": "exact_mach"}]}), "did you mean 'exact_match'"),
    ("reward file missing", _raw({"rewards": [{"name": "nowhere.py:fn"}]}), "nowhere.py"),
    ("reward without name", _raw({"rewards": [{"weight": 1.0}]}), "missing required key 'name'"),
    ("no rewards", _raw({"rewards": []}), "expected at least one reward"),
    ("bad reward weight", _raw({"rewards": [{"name": "f1", "weight": "high"}]}), "rewards[0].weight"),
    ("section not a mapping", _raw({"data": "x.jsonl"}), "data: expected a mapping"),
    # data
    ("missing QA file", _set("data", train="missing.jsonl"), "missing.jsonl: file not found"),
    (
        "invalid JSON line",
        _qa_file(b'{"id": "a", "question": "q", "answers": ["x"]}\n{oops\n'),
        "bad_qa.jsonl:2: invalid JSON",
    ),
    (
        "missing field",
        _qa_file(json.dumps({"id": "a", "answers": ["x"]}).encode() + b"\n"),
        "bad_qa.jsonl:1: field 'question'",
    ),
    (
        "empty answers",
        _qa_file(json.dumps({**Q, "answers": []}).encode() + b"\n"),
        "bad_qa.jsonl:1: field 'answers': expected a non-empty list of strings",
    ),
    (
        "answers not a list",
        _qa_file(json.dumps({**Q, "answers": "a"}).encode() + b"\n"),
        "bad_qa.jsonl:1: field 'answers'",
    ),
    (
        "duplicate ids",
        _qa_file((json.dumps(Q) + "\n" + json.dumps(Q) + "\n").encode()),
        "bad_qa.jsonl:2: field 'id': duplicate id",
    ),
    (
        "unknown gold id",
        _qa_file(json.dumps({**Q, "gold_ids": ["nope"]}).encode() + b"\n"),
        "bad_qa.jsonl:1: field 'gold_ids': id 'nope' is not in the corpus",
    ),
    (
        "non-UTF-8 bytes",
        _qa_file(b'{"id": "a", "question": "caf\xe9", "answers": ["x"]}\n'),
        "bad_qa.jsonl:1: not valid UTF-8",
    ),
    ("huge line", _qa_file(b'{"id": "' + b"x" * (1 << 20) + b'"}\n'), "bad_qa.jsonl:1: line is longer than"),
    ("empty QA file", _qa_file(b"\n"), "empty QA file"),
    ("empty corpus", _corpus_file(b""), "empty corpus"),
    ("corpus line not an object", _corpus_file(b"[1, 2]\n"), "bad_corpus.jsonl:1: expected a JSON object"),
    # indexes
    ("index for another corpus", _index("other corpus"), "was built for another corpus"),
    ("truncated index", _index("truncated"), "rebuild it with `grpo-rag index"),
]


@pytest.mark.parametrize(("name", "setup", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_input(
    tiny_run: dict[str, Any],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    name: str,
    setup: Setup,
    message: str,
) -> None:
    raw = json.loads(json.dumps(tiny_run))
    out = tmp_path / "run"
    raw["training"]["output_dir"] = str(out)
    setup(tmp_path, raw)
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    capsys.readouterr()
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert message in err, err
    assert not out.exists(), "a failed run must not leave a half-made output folder"


def test_at_least_thirty_cases() -> None:
    assert len(CASES) >= 30
