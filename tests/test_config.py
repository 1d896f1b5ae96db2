"""Config loading: typed sections, unknown keys and wrong types are errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grpo_rag.config import RunConfig, dump_config, from_dict, load_config
from grpo_rag.errors import ConfigError

CONFIGS = sorted(Path(__file__).resolve().parent.parent.joinpath("configs").glob("*.yaml"))


@pytest.mark.parametrize("path", CONFIGS, ids=[p.name for p in CONFIGS])
def test_every_shipped_config_loads(path: Path) -> None:
    cfg = load_config(path)
    assert isinstance(cfg, RunConfig) and cfg.rewards


def test_defaults_and_round_trip(tmp_path: Path) -> None:
    cfg = from_dict({})
    assert cfg.retrieval.k == 3 and cfg.training["num_generations"] == 4
    path = tmp_path / "resolved.yaml"
    path.write_text(dump_config(cfg))
    assert load_config(path).to_dict() == cfg.to_dict()


def test_overrides_are_typed(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"retrieval": {"k": 2}}))
    cfg = load_config(
        path,
        ["retrieval.k=5", "training.max_steps=7", "retrieval.domains=[a, b]", "training.learning_rate=2e-3"],
    )
    assert cfg.retrieval.k == 5 and cfg.training["max_steps"] == 7 and cfg.retrieval.domains == ["a", "b"]
    # YAML 1.1 reads `2e-3` as a string; numeric GRPOConfig fields get a number anyway.
    assert cfg.training["learning_rate"] == 0.002


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"retrieval": {"kk": 3}}, "retrieval: unknown key 'kk' (did you mean 'k'?)"),
        ({"retrieval": {"k": "three"}}, "retrieval.k: expected int, got 'three'"),
        ({"retrieval": {"k": -1}}, "retrieval.k: expected a positive integer"),
        ({"retrieval": {"per_domain_k": {"legal": 0}}}, "retrieval.per_domain_k.legal"),
        ({"lora": {"r": 0}}, "lora.r: expected a positive integer"),
        ({"lora": {"dropout": 1.5}}, "lora.dropout"),
        ({"model": {"dtype": "int4"}}, "model.dtype: expected one of"),
        ({"modle": {}}, "unknown key 'modle' (did you mean 'model'?)"),
        (
            {"training": {"learning_rat": 0.1}},
            "training: unknown key 'learning_rat' (did you mean 'learning_rate'?)",
        ),
        ({"training": {"per_device_train_batch_size": 3, "num_generations": 2}}, "training:"),
        ({"training": {"learning_rate": "fast"}}, "training.learning_rate: expected a number, got 'fast'"),
        ({"training": {"reward_weights": [1.0]}}, "set the weight on each entry of `rewards`"),
        ({"rewards": [{"name": "exact_mach"}]}, "rewards[0].name"),
        ({"rewards": [{"weight": 1.0}]}, "missing required key 'name'"),
        ({"rewards": []}, "rewards: expected at least one reward"),
        ({"rewards": {"name": "f1"}}, "rewards: expected list"),
        ({"data": "x.jsonl"}, "data: expected a mapping"),
        ({"bootstrap": {"hidden_size": 1.5}}, "bootstrap.hidden_size: expected int"),
        ({"eval": {"batch_size": True}}, "eval.batch_size: expected int"),
    ],
)
def test_bad_configs(raw: dict, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        from_dict(raw, "my.yaml")
    assert str(info.value).startswith("my.yaml: ")
    assert message in str(info.value)


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    bad.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping of sections"):
        load_config(bad)
    with pytest.raises(ConfigError, match="expected section.key=value"):
        load_config(CONFIGS[0], ["retrieval.k"])
    with pytest.raises(ConfigError, match="python/object"):
        bad.write_text("model: !!python/object/apply:os.system ['true']\n")
        load_config(bad)
