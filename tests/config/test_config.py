"""Config loading: typed sections, unknown keys and wrong types are errors naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from grpo_rag.config import RunConfig, dump_config
from grpo_rag.config import loader as core_loader
from grpo_rag.config.grpo_args import FIELDS_FILE, field_kinds, validate_training
from grpo_rag.demo.settings import BootstrapConfig
from grpo_rag.errors import ConfigError
from grpo_rag.sections import from_dict, load_config
from grpo_rag.studies.settings import CompareConfig

CONFIGS = sorted(Path(__file__).resolve().parents[2].joinpath("configs").glob("*.yaml"))


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
    # ... and so do the toolkit's own float fields; text that is not a number is still refused.
    loaded = load_config(path, ["bootstrap.sft_learning_rate=2e-3"])
    assert loaded.section("bootstrap", BootstrapConfig).sft_learning_rate == 0.002
    with pytest.raises(ConfigError, match="bootstrap.sft_learning_rate: expected float, got 'fast'"):
        load_config(path, ["bootstrap.sft_learning_rate=fast"])


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
        ({"training": {"learning_rate": "fast"}}, "training.learning_rate: expected a number, got 'fast'"),
        ({"training": {"reward_weights": [1.0]}}, "set the weight on each entry of `rewards`"),
        ({"rewards": [{"name": "exact_mach"}]}, "rewards[0].name"),
        ({"rewards": [{"weight": 1.0}]}, "missing required key 'name'"),
        ({"rewards": []}, "rewards: expected at least one reward"),
        ({"rewards": {"name": "f1"}}, "rewards: expected list"),
        ({"data": "x.jsonl"}, "data: expected a mapping"),
        ({"bootstrap": {"hidden_size": 1.5}}, "bootstrap.hidden_size: expected int"),
        ({"eval": {"batch_size": True}}, "eval.batch_size: expected int"),
        ({"data": {"domains": []}}, "data.domains: expected a non-empty list"),
        (
            {"data": {"balance_domain": True}},
            "unknown key 'balance_domain' (did you mean 'balance_domains'?)",
        ),
        ({"data": {"max_train_samples": 0}}, "data.max_train_samples: expected a positive integer"),
        ({"rewards": [{"name": "f1", "domain_weights": {"reddit": -1}}]}, "domain_weights.reddit"),
        (
            {"rewards": [{"name": "f1", "domain_weights": {"reddit": "high"}}]},
            "domain_weights.reddit: expected float",
        ),
        ({"routing": {"top_m": 0}}, "routing.top_m: expected a positive integer"),
        ({"routing": {"threshold": 1.5}}, "routing.threshold: expected a probability"),
        ({"routing": {"scoring": "mixed"}}, "routing.scoring: expected one of pooled, domain"),
        ({"routing": {"routr": "bm25"}}, "routing: unknown key 'routr' (did you mean 'router'?)"),
        ({"routing": {"router": "bm25"}, "retrieval": {"domains": ["a"]}}, "routing.router: a router picks"),
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


def test_prompt_section_reaches_the_prompts() -> None:
    from grpo_rag.pipeline.prepare import prompt_options

    cfg = from_dict({"prompt": {"instructions": "Cite [n]."}})
    options = prompt_options(cfg, chat=False)
    assert options.instructions == "Cite [n]." and options.closed_book_instructions is None
    assert options.render("Q?", ["p"]).startswith("Cite [n].\n\n[1] p")
    with pytest.raises(ConfigError, match="prompt: unknown key 'instruction'"):
        from_dict({"prompt": {"instruction": "x"}})


def test_counterfactual_fraction_is_a_share() -> None:
    assert from_dict({"data": {"counterfactual_fraction": 0.5}}).data.counterfactual_fraction == 0.5
    with pytest.raises(ConfigError, match=r"data.counterfactual_fraction: expected a share in \[0, 1\]"):
        from_dict({"data": {"counterfactual_fraction": 1.5}})


def test_multidomain_config_fields() -> None:
    cfg = load_config(
        Path(__file__).resolve().parents[2] / "configs/multidomain.yaml",
        ["data.domains=[pubmedqa]", "routing.router=bm25"],
    )
    assert cfg.data.domains == ["pubmedqa"] and cfg.data.balance_domains is True
    assert cfg.retrieval.per_domain_k == {"tatqa": 2}
    assert cfg.rewards[0].domain_weights == {"pubmedqa": 0.5}
    assert cfg.routing.router == "bm25" and cfg.routing.top_m == 2


def test_trl_checks_values_when_a_run_is_built() -> None:
    """TRL's own value rules run in `validate_training` (train, compare, train-experts), not at load."""
    cfg = from_dict({"training": {"per_device_train_batch_size": 3, "num_generations": 2}}, "my.yaml")
    with pytest.raises(ConfigError, match=r"^my.yaml: training: generation_batch_size \(3\)"):
        validate_training(cfg.training, cfg.source)


def test_grpo_field_snapshot_matches_installed_trl() -> None:
    """Loading checks `training` keys against a snapshot; it must equal the installed TRL's GRPOConfig."""
    import json

    assert json.loads(FIELDS_FILE.read_text()) == field_kinds(), "run: python -m grpo_rag.config.grpo_args"


def test_demo_and_study_sections_are_registered_not_core(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump({"bootstrap": {"hidden_size": 64}, "compare": {"arms": ["rag"]}}))
    with pytest.raises(ConfigError, match="unknown key 'bootstrap'"):
        core_loader.load_config(path)  # the core config knows no demo or study section
    cfg = core_loader.load_config(path, sections={"bootstrap": BootstrapConfig, "compare": CompareConfig})
    assert cfg.section("bootstrap", BootstrapConfig).hidden_size == 64
    assert load_config(path).to_dict()["compare"]["arms"] == ["rag"]  # dumped at the top level, as written


def test_loading_imports_no_torch_and_runs_no_plugin(tmp_path: Path) -> None:
    """`import grpo_rag.config` and loading a config (with a plug-in reward) import no torch, run no plug-in."""
    import subprocess
    import sys

    marker = tmp_path / "plugin-ran"
    plugin = tmp_path / "plug.py"
    plugin.write_text(
        f"open({str(marker)!r}, 'w').close()\n\ndef score(prompts, completions, **kw):\n    return [0.0]\n"
    )
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump({"rewards": [{"name": f"{plugin}:score"}], "bootstrap": {"seed": 1}}))
    code = (
        "import sys, grpo_rag.config\n"
        "assert 'torch' not in sys.modules, 'import grpo_rag.config imported torch'\n"
        "from grpo_rag.sections import load_config\n"
        f"load_config({str(cfg)!r})\n"
        "bad = sorted(m for m in ('torch', 'trl', 'transformers') if m in sys.modules)\n"
        "assert not bad, f'loading a config imported {bad}'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
    assert not marker.exists(), "loading the config ran the plug-in's code"
