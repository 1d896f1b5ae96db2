"""`training.report_to`: trackers are the user's choice; a missing tracker package fails in one line."""

from __future__ import annotations

import importlib.util

import pytest

from grpo_rag.config.grpo_args import TRAINING_DEFAULTS, check_trackers, make_grpo_config
from grpo_rag.errors import ConfigError


def test_report_to_defaults_to_none_and_passes_through() -> None:
    assert TRAINING_DEFAULTS["report_to"] == "none"
    assert make_grpo_config(dict(TRAINING_DEFAULTS)).report_to == []
    if importlib.util.find_spec("tensorboard"):
        chosen = make_grpo_config({**TRAINING_DEFAULTS, "report_to": "tensorboard"})
        assert chosen.report_to == ["tensorboard"]


def test_a_missing_tracker_package_is_a_one_line_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "wandb" else real(name, *a)
    )
    with pytest.raises(
        ConfigError, match="training.report_to: wandb needs the wandb package: pip install wandb"
    ):
        check_trackers(["wandb"])
    check_trackers("none")  # and the other names are left to transformers
    check_trackers(["mlflow"])
