"""Loading a run config: YAML (safe loader) -> overrides -> typed sections, validated once, errors naming the file.

Loading imports neither torch nor TRL and runs no reward plug-in code: reward names are checked by
`registry.check_spec` (a file must exist), and plug-ins are imported when a run is built. Sections beyond
the core ones (`bootstrap`, `compare`, ...) are accepted only when the caller registers them in `sections`.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from grpo_rag.config.grpo_args import check_training
from grpo_rag.config.schema import RunConfig
from grpo_rag.config.typed_yaml import build, unknown_key
from grpo_rag.errors import ConfigError

#: Registered section name -> its dataclass (built like the core sections, stored in `RunConfig.sections`).
Sections = Mapping[str, type]


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply `section.key=value` overrides (values parsed as YAML) to the raw mapping."""
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r}: expected section.key=value")
        dotted, text = item.split("=", 1)
        parts = dotted.strip().split(".")
        if not all(parts):
            raise ConfigError(f"override {item!r}: expected section.key=value")
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError:
            value = text
        node = raw
        for part in parts[:-1]:
            child = node.get(part)
            if child is None:
                child = node[part] = {}
            if not isinstance(child, dict):
                raise ConfigError(f"override {item!r}: '{part}' is not a section")
            node = child
        node[parts[-1]] = value
    return raw


_CORE = [name for name in RunConfig.__dataclass_fields__ if name not in ("sections", "source")]


def from_dict(raw: dict[str, Any], source: str = "<dict>", sections: Sections | None = None) -> RunConfig:
    """Validate a raw mapping into a RunConfig; errors are prefixed with `source`."""
    sections = dict(sections or {})
    try:
        if not isinstance(raw, dict):
            raise ConfigError("expected a mapping of sections at the top level")
        for key in raw:
            if key not in _CORE and key not in sections:
                raise unknown_key("top level", key, [*_CORE, *sections])
        training = raw.get("training") or {}
        if not isinstance(training, dict):
            raise ConfigError("training: expected a mapping of GRPOConfig fields")
        core = {k: v for k, v in raw.items() if k in _CORE and k != "training"}
        cfg = build(RunConfig, core, "")
        cfg.sections = {name: build(cls, raw.get(name) or {}, name) for name, cls in sections.items()}
        if not cfg.rewards:
            raise ConfigError("rewards: expected at least one reward")
        cfg.training = check_training(training)
        cfg.source = source
        _check_cross_fields(cfg)
        return cfg
    except ConfigError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def _check_cross_fields(cfg: RunConfig) -> None:
    """Rules spanning sections, checked once here with what to change."""
    from grpo_rag.rewards.registry import check_spec

    for i, spec in enumerate(cfg.rewards):
        try:
            check_spec(spec.name)
        except Exception as exc:
            raise ConfigError(f"rewards[{i}].name: {exc}") from None
    for i, spec in enumerate(cfg.rewards):
        if spec.name == "search_budget" and cfg.rollout.mode != "multi_turn":
            raise ConfigError(
                f"rewards[{i}]: search_budget scores search calls; set rollout.mode: multi_turn"
            )
    if cfg.rollout.mode == "multi_turn" and cfg.training.get("max_tool_calling_iterations") is not None:
        raise ConfigError("training.max_tool_calling_iterations: set rollout.max_calls instead")
    if cfg.routing.router is not None and cfg.retrieval.domains:
        raise ConfigError(
            "routing.router: a router picks the domains per question; set retrieval.domains "
            "to null, or routing.router to null to keep the fixed domains"
        )
    if cfg.prompt.prefill and cfg.rollout.mode == "multi_turn":
        raise ConfigError(
            "prompt.prefill: multi-turn rollouts start with a search call; set prompt.prefill: null"
        )
    if cfg.training.get("reward_weights") is not None:
        raise ConfigError("training.reward_weights: set the weight on each entry of `rewards` instead")


def load_config(
    path: str | Path, overrides: list[str] | None = None, sections: Sections | None = None
) -> RunConfig:
    """Read a YAML config (safe loader), apply overrides, validate; raises ConfigError naming the file."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of sections at the top level")
    return from_dict(apply_overrides(raw, list(overrides or [])), str(path), sections)


def dump_config(cfg: RunConfig) -> str:
    """The resolved config as YAML (what `config.resolved.yaml` holds); loads back to the same config."""
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)


def replace_sections(cfg: RunConfig, **changes: dict[str, Any]) -> RunConfig:
    """A copy of `cfg` with some keys of some sections (core or registered) replaced, validated again."""
    raw = cfg.to_dict()
    for name, fields in changes.items():
        raw[name] = {**(raw.get(name) or {}), **fields}
    kinds = {name: type(value) for name, value in cfg.sections.items()}
    return from_dict(raw, cfg.source, kinds)
