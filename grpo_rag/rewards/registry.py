"""The reward name registry and the plug-in loader: names -> functions in TRL's reward signature.

Every reward has TRL's signature `fn(prompts, completions, **columns) -> list[float | None]`, where
`columns` holds the dataset columns (one item per completion) plus TRL's extras. The registry starts with
`builtin.BUILTINS`; `register` adds a user's function under a name. `check_spec` validates a config's reward
name without importing any plug-in (what loading a config does); `resolve` imports it (what training does).
Options (config `kwargs`) are bound and checked by `binding.build_reward_funcs`.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grpo_rag.errors import RewardError
from grpo_rag.rewards.builtin import BUILTINS, RewardFn

#: Names that TRL or the dataset pass as keyword arguments; a config option may not reuse them.
RESERVED_NAMES = frozenset(
    {
        "prompts",
        "completions",
        "completion_ids",
        "trainer_state",
        "log_extra",
        "log_metric",
        "environments",
        "answers",
        "passages",
        "passage_ids",
        "gold_ids",
        "answerable",
        "domain",
        "question",
        "id",
        "titles",
        "passage_titles",
        "search_calls",
        "search_errors",
    }
)

_REGISTRY: dict[str, RewardFn] = dict(BUILTINS)  # name -> function; users add theirs with `register`


def register(name: str) -> Callable[[RewardFn], RewardFn]:
    """Decorator adding a reward function to the registry under `name` (its docstring's first line is its help)."""
    if not name.isidentifier():
        raise ValueError(f"reward name must be an identifier, got {name!r}")

    def decorator(fn: RewardFn) -> RewardFn:
        if name in _REGISTRY and _REGISTRY[name] is not fn:
            raise ValueError(f"reward {name!r} is already registered")
        _REGISTRY[name] = fn
        return fn

    return decorator


def is_builtin(name: str) -> bool:
    """True when `name` is one of the toolkit's built-in rewards (`builtin.BUILTINS`)."""
    return name in BUILTINS


def is_registered(name: str) -> bool:
    """True when `name` is in the registry: a built-in or a function added with `register`."""
    return name in _REGISTRY


def _doc_line(fn: Callable[..., Any]) -> str:
    """First line of a function's docstring, or an empty string."""
    doc = inspect.getdoc(fn) or ""
    return doc.splitlines()[0].strip() if doc else ""


def available() -> list[tuple[str, str]]:
    """Registered rewards as `(name, one-line description)`, in registration order."""
    return [(name, _doc_line(fn)) for name, fn in _REGISTRY.items()]


# ---------------------------------------------------------------------------------------------------------
# Resolving names and plug-ins


def _unknown_name(spec: str) -> RewardError:
    """Error for an unknown reward name, listing the registry and the closest match."""
    names = list(_REGISTRY)
    close = difflib.get_close_matches(spec, names, n=1, cutoff=0.4)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return RewardError(
        f"unknown reward '{spec}'{hint} Known rewards: {', '.join(names)}. A plug-in is named "
        "'path/to/file.py:function' or 'package.module:function'."
    )


def _load_file(path_text: str, spec: str) -> Any:
    """Import a Python file as a fresh module (relative paths are taken from the current directory)."""
    path = Path(path_text)
    if not path.is_absolute():
        path = Path.cwd() / path
    if not path.is_file():
        raise RewardError(f"reward '{spec}': file not found: {path}")
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:10]
    module_name = f"_grpo_rag_plugin_{path.stem if path.stem.isidentifier() else 'file'}_{digest}"
    module_spec = importlib.util.spec_from_file_location(module_name, path)
    if module_spec is None or module_spec.loader is None:
        raise RewardError(f"reward '{spec}': cannot load {path} as a Python module")
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[module_name] = module  # lets dataclasses/pickle inside the plug-in find their module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise RewardError(f"reward '{spec}': importing {path} failed: {type(exc).__name__}: {exc}") from exc
    return module


def _load_module(name: str, spec: str) -> Any:
    """Import `package.module`, turning import failures into RewardError."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        raise RewardError(f"reward '{spec}': module '{name}' not found ({exc})") from exc
    except Exception as exc:
        raise RewardError(f"reward '{spec}': importing '{name}' failed: {type(exc).__name__}: {exc}") from exc


def _split(spec: str) -> tuple[str, str, bool]:
    """(module or file, function, is a file) of a plug-in spec; RewardError when it is neither form."""
    if ":" not in spec:
        if spec.endswith(".py"):
            raise RewardError(f"reward '{spec}': name the function too, as '{spec}:function'")
        raise _unknown_name(spec)
    where, func_name = spec.rsplit(":", 1)
    if not where or not func_name:
        raise RewardError(
            f"reward '{spec}': expected 'path/to/file.py:function' or 'package.module:function'"
        )
    return where, func_name, where.endswith(".py") or "/" in where or "\\" in where


def check_spec(spec: str) -> None:
    """Check a reward name without running plug-in code: a registered name, an existing file, or a module path.

    A module's import and a function's presence are checked later, by `resolve`, when the run is built.
    """
    if spec in _REGISTRY:
        return
    where, _, is_file = _split(spec)
    if is_file:
        path = Path(where) if Path(where).is_absolute() else Path.cwd() / where
        if not path.is_file():
            raise RewardError(f"reward '{spec}': file not found: {path}")
    elif not all(part.isidentifier() for part in where.split(".")):
        raise RewardError(f"reward '{spec}': '{where}' is not a Python module path (package.module)")


def resolve(spec: str) -> RewardFn:
    """Find a reward: a registered name, `package.module:function`, or `path/to/file.py:function`."""
    if spec in _REGISTRY:
        return _REGISTRY[spec]
    where, func_name, is_file = _split(spec)
    module = _load_file(where, spec) if is_file else _load_module(where, spec)
    if not hasattr(module, func_name):
        raise RewardError(f"reward '{spec}': '{where}' has no attribute '{func_name}'")
    fn = getattr(module, func_name)
    if not callable(fn):
        raise RewardError(f"reward '{spec}': '{func_name}' is not callable (got {type(fn).__name__})")
    return fn
