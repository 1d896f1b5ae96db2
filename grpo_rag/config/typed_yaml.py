"""Typed dataclasses from parsed YAML: each value checked against its annotation, errors name the key.

Generic on purpose (no grpo-rag sections here): `schema.py` and the demo / study settings declare the
sections, this builds them.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
import types
import typing
from typing import Any

from grpo_rag.errors import ConfigError

_FLOAT_TEXT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def unknown_key(where: str, key: str, known: list[str]) -> ConfigError:
    close = difflib.get_close_matches(key, known, n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return ConfigError(f"{where}: unknown key '{key}'{hint}; known keys: {', '.join(sorted(known))}")


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def coerce(where: str, value: Any, tp: Any) -> Any:
    """Check `value` against the annotation `tp` (ints pass as floats); returns the (converted) value."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            try:
                return coerce(where, value, arg)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if tp is type(None):
        if value is None:
            return None
    elif tp is Any:
        return value
    elif dataclasses.is_dataclass(tp):
        return build(tp, value, where)
    elif origin is list:
        if isinstance(value, list):
            return [coerce(f"{where}[{i}]", v, args[0]) for i, v in enumerate(value)]
    elif origin is dict:
        if isinstance(value, dict):
            return {coerce(where, k, args[0]): coerce(f"{where}.{k}", v, args[1]) for k, v in value.items()}
    elif tp is float:
        if isinstance(value, str) and _FLOAT_TEXT.fullmatch(value.strip()):
            return float(value)  # YAML 1.1 reads `2e-3` (no dot) as text
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif isinstance(tp, type) and isinstance(value, tp):
        return value
    raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")


def build(cls: Any, raw: Any, where: str) -> Any:
    """Instantiate dataclass `cls` from a mapping, rejecting unknown keys and wrong types."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {raw!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init and f.name != "source"}
    kwargs = {}
    for key, value in raw.items():
        if key not in fields:
            raise unknown_key(where, str(key), list(fields))
        kwargs[key] = coerce(f"{where}.{key}" if where else key, value, hints[key])
    missing = [
        n
        for n, f in fields.items()
        if n not in kwargs and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing required key '{missing[0]}'")
    try:
        return cls(**kwargs)
    except TypeError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def one_of(where: str, value: str, allowed: tuple[str, ...]) -> None:
    """Raise ConfigError naming `where` unless `value` is one of `allowed`."""
    if value not in allowed:
        raise ConfigError(f"{where}: expected one of {', '.join(allowed)}, got {value!r}")
