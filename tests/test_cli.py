"""CLI smoke tests on the 20-passage fixture: exit codes, one-line errors, train -> eval."""

from __future__ import annotations

import json
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml

from grpo_rag.cli import main, parse_args


def _write_config(tiny_run: dict[str, Any], tmp_path: Path) -> Path:
    raw = json.loads(json.dumps(tiny_run))
    raw["training"]["output_dir"] = str(tmp_path / "run")
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_train_then_eval(tiny_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tiny_run, tmp_path)
    assert main(["train", str(config), "training.max_steps=1"]) == 0
    assert (tmp_path / "run" / "adapter" / "adapter_model.safetensors").is_file()
    out = tmp_path / "eval"
    assert main(["eval", str(config), "--checkpoint", str(tmp_path / "run"), "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n"] == 5 and "per_domain" in metrics
    assert "exact_match" in capsys.readouterr().out


def test_index_command(tiny_corpus_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["index", "--corpus", str(tiny_corpus_path), "--out", str(tmp_path / "idx")]) == 0
    assert "indexed 20 passages" in capsys.readouterr().out


def test_rewards_lists_builtins(capsys: pytest.CaptureFixture) -> None:
    assert main(["rewards"]) == 0
    out = capsys.readouterr().out
    for name in ("exact_match", "f1", "format", "grounded", "citation", "abstain", "length"):
        assert name in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nope.yaml"], "nope.yaml: config file not found"),
        (["index", "--corpus", "missing.jsonl", "--out", "x"], "missing.jsonl"),
        (["eval", "CONFIG", "--closed-book", "--oracle"], "exclusive"),
        (["train", "CONFIG", "retrieval.k=-2"], "retrieval.k: expected a positive integer"),
        (["train", "CONFIG", "--resume"], "no complete checkpoint"),
    ],
)
def test_user_errors_exit_2_without_traceback(
    tiny_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture, argv: list[str], message: str
) -> None:
    config = str(_write_config(tiny_run, tmp_path))
    assert main([config if a == "CONFIG" else a for a in argv]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_failing_plugin_stops_run_and_keeps_checkpoint(
    tiny_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    raw = json.loads(json.dumps(tiny_run))
    raw["training"].update(output_dir=str(tmp_path / "run"), max_steps=4, save_steps=1)
    raw["rewards"] = [{"name": f"{Path(__file__).parent / 'plugins.py'}:fails_after_two_steps"}]
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump(raw))
    assert main(["train", str(config)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == "error: reward 'fails_after_two_steps' raised RuntimeError: plug-in bug at step 3"
    from grpo_rag.training.grpo import last_checkpoint

    assert last_checkpoint(tmp_path / "run") == tmp_path / "run" / "checkpoint-2"
    assert not (tmp_path / "run" / "adapter").exists()


def test_debug_flag_shows_the_traceback() -> None:
    from grpo_rag.errors import ConfigError

    with pytest.raises(ConfigError, match="config file not found"):
        main(["--debug", "train", "nope.yaml"])


def test_compare_command(tiny_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    config = _write_config(tiny_run, tmp_path)
    out = tmp_path / "cmp"
    assert (
        main(["compare", str(config), "compare.arms=[rag]", "compare.freshness=false", "--out", str(out)])
        == 0
    )
    assert json.loads((out / "report.json").read_text())["arms"]["rag"]["heldout"]["n"] == 5
    assert "highest held-out EM: RAG (untrained)" in capsys.readouterr().out
    assert (
        main(["compare", str(config), "compare.arms=[rag]", "--out", str(out)]) == 2
    )  # refuses to overwrite
    assert main(["compare", str(config), "compare.arms=[hybrid]"]) == 2
    assert "add 'raft'" in capsys.readouterr().err


def test_overrides_may_follow_options() -> None:
    args = parse_args(["bootstrap", "cfg.yaml", "a.b=1", "--out", "m", "c.d=2", "--force"])
    assert args.overrides == ["a.b=1", "c.d=2"]
    assert args.out == "m" and args.force


def test_stray_words_are_still_refused(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(SystemExit):
        parse_args(["bootstrap", "cfg.yaml", "--out", "m", "oops"])
    assert "unrecognized arguments: oops" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["rewards", "a.b=1"])


def test_every_command_takes_its_config_first_and_the_old_flag_still_works(
    tiny_run: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    from grpo_rag.cli import parse_args

    config = str(_write_config(tiny_run, tmp_path))
    for cmd in ("bootstrap", "train", "eval", "train-experts", "compare", "route-train"):
        extra = ["--out", "x"] if cmd == "route-train" else []
        args = parse_args([cmd, config, *extra, "retrieval.k=1"])
        assert args.config == config and args.overrides == ["retrieval.k=1"], cmd
    old = parse_args(["eval", "--config", config, "retrieval.k=1", "--limit", "2"])
    assert old.config == config and old.overrides == ["retrieval.k=1"] and old.limit == 2
    assert "deprecated" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse_args(["eval", "--limit", "2"])
    assert "the config is required" in capsys.readouterr().err


def test_every_command_help_ends_with_an_example(capsys: pytest.CaptureFixture) -> None:
    from grpo_rag.cli import build_parser
    from grpo_rag.cli_examples import EXAMPLES

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    assert set(sub.choices) == set(EXAMPLES)
    for name in sub.choices:
        with pytest.raises(SystemExit) as done:
            main([name, "--help"])
        assert done.value.code == 0
        last = capsys.readouterr().out.strip().splitlines()[-1]
        assert last == f"example: {EXAMPLES[name]}", name
        assert last.startswith(f"example: grpo-rag {name}"), name
        assert parse_args(shlex.split(EXAMPLES[name])[1:]).command == name  # the example parses as written
