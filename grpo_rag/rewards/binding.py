"""Binding configured rewards for TRL: options checked up front, outputs checked on every call.

`build_reward_funcs` turns the config's reward entries into the `reward_funcs` and `reward_weights` TRL
takes. Each function is wrapped in a `BoundReward` that names it for TRL's logs, binds its options, and
applies the failure policy (`on_error`, `timeout_s`) when a plug-in raises, hangs or returns bad values.
"""

from __future__ import annotations

import asyncio
import inspect
import math
import numbers
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

from grpo_rag.errors import RewardError
from grpo_rag.rewards.registry import RESERVED_NAMES, RewardFn, is_registered, resolve

#: Turns TRL's reward columns into the ones rewards see (the rollout layer passes one for multi-turn search).
ColumnHook = Callable[[Sequence[Any], Mapping[str, Any]], dict[str, Any]]


class RewardSpec(Protocol):
    """What `build_reward_funcs` reads from each configured reward (the config module defines the class)."""

    name: str
    weight: float
    kwargs: dict[str, Any]


def _check_output(name: str, values: Any, n: int) -> list[float | None]:
    """Reject reward outputs TRL would choke on, naming the reward."""
    if not isinstance(values, Sequence) or isinstance(values, str):
        raise RewardError(f"reward '{name}' returned {type(values).__name__}, expected a list of floats")
    if len(values) != n:
        raise RewardError(f"reward '{name}' returned {len(values)} values for {n} completions")
    for i, v in enumerate(values):
        if v is not None and (isinstance(v, bool) or not isinstance(v, numbers.Real)):
            raise RewardError(
                f"reward '{name}' returned {v!r} for sample {i}; rewards must be numbers or None"
            )
        if v is not None and not math.isfinite(v):
            raise RewardError(f"reward '{name}' returned {v!r} for sample {i}; rewards must be finite")
    return list(values)


class BoundReward:
    """A reward with its config options bound; `__name__` is what TRL logs as `rewards/<name>`.

    A class rather than a closure so that it pickles whenever the wrapped function does.
    """

    def __init__(
        self,
        func: RewardFn,
        options: Mapping[str, Any],
        name: str,
        *,
        on_error: str = "stop",
        timeout_s: float | None = None,
        domain_weights: Mapping[str, float] | None = None,
        column_hook: ColumnHook | None = None,
        completion_prefix: str = "",
    ):
        self.func = func
        self.completion_prefix = completion_prefix  # `prompt.prefill`: the text the model's turn started with
        self.column_hook = column_hook  # e.g. multi-turn: the passages of every search call, not the prompt's
        self.domain_weights = dict(domain_weights or {})  # per-sample multiplier by the row's `domain`
        self.options = dict(options)
        self.on_error = on_error  # "stop": raise RewardError; "skip": warn and give None to every sample
        self.timeout_s = timeout_s  # seconds one call may take; None = no limit
        self.__name__ = name
        self.__qualname__ = name
        self.__doc__ = func.__doc__

    def __call__(
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        """Call the wrapped reward; options win over same-named columns. Failures follow `on_error`."""
        completions = self._whole(completions)
        columns = self._columns(completions, columns)
        try:
            values = self._run(prompts=prompts, completions=completions, **{**columns, **self.options})
            return self._weigh(_check_output(self.__name__, values, len(completions)), columns)
        except RewardError as exc:
            return self._failed(exc, len(completions))
        except Exception as exc:  # a plug-in bug: report it under the plug-in's name
            return self._failed(
                RewardError(f"reward '{self.__name__}' raised {type(exc).__name__}: {exc}"), len(completions)
            )

    def _whole(self, completions: Sequence[Any]) -> Sequence[Any]:
        """Completions as the whole model turn: the prefill the prompt ended with, then what was generated."""
        if not self.completion_prefix:
            return completions
        return [self.completion_prefix + c if isinstance(c, str) else c for c in completions]

    def _columns(self, completions: Sequence[Any], columns: Mapping[str, Any]) -> dict[str, Any]:
        return self.column_hook(completions, columns) if self.column_hook else dict(columns)

    def _weigh(self, values: list[float | None], columns: Mapping[str, Any]) -> list[float | None]:
        """Scale each sample's reward by its domain's weight (`domain_weights`); unlisted domains keep 1.0."""
        if not self.domain_weights:
            return values
        domains = columns.get("domain")
        if domains is None or len(domains) != len(values):
            raise RewardError(
                f"reward '{self.__name__}' has domain_weights but the batch has no 'domain' column"
            )
        return [
            None if v is None else v * self.domain_weights.get(d, 1.0)
            for v, d in zip(values, domains, strict=True)
        ]

    def _run(self, **kwargs: Any) -> Any:
        if self.timeout_s is None:
            return self.func(**kwargs)
        # A hung call cannot be killed from Python; it is abandoned on a daemon thread and reported.
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"reward-{self.__name__}")
        try:
            return pool.submit(self.func, **kwargs).result(timeout=self.timeout_s)
        except FutureTimeout:
            raise RewardError(
                f"reward '{self.__name__}' took longer than its timeout_s={self.timeout_s}"
            ) from None
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    def _failed(self, exc: RewardError, n: int) -> list[float | None]:
        if self.on_error != "skip":
            raise exc
        warnings.warn(f"{exc}; skipping it for this batch (on_error: skip)", RuntimeWarning, stacklevel=2)
        return [None] * n

    def __repr__(self) -> str:
        return f"BoundReward({self.__name__}, options={self.options})"


class AsyncBoundReward(BoundReward):
    """`BoundReward` for an async plug-in; TRL runs it on its event loop."""

    async def __call__(  # type: ignore[override]
        self, prompts: Sequence[Any], completions: Sequence[Any], **columns: Any
    ) -> list[float | None]:
        """Await the wrapped reward; options win over same-named columns. Failures follow `on_error`."""
        completions = self._whole(completions)
        columns = self._columns(completions, columns)
        try:
            call = self.func(prompts=prompts, completions=completions, **{**columns, **self.options})
            try:
                values = await asyncio.wait_for(call, self.timeout_s)  # None = no limit
            except asyncio.TimeoutError:
                raise RewardError(
                    f"reward '{self.__name__}' took longer than its timeout_s={self.timeout_s}"
                ) from None
            return self._weigh(_check_output(self.__name__, values, len(completions)), columns)
        except RewardError as exc:
            return self._failed(exc, len(completions))
        except Exception as exc:
            return self._failed(
                RewardError(f"reward '{self.__name__}' raised {type(exc).__name__}: {exc}"), len(completions)
            )


def _check_options(spec_name: str, fn: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """Each option must be a named parameter of `fn` that is not a TRL argument or a data column."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError) as exc:
        raise RewardError(f"reward '{spec_name}': cannot read its signature ({exc})") from exc
    accepted = {
        p.name
        for p in params.values()
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in RESERVED_NAMES
    }
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        raise RewardError(
            f"reward '{spec_name}' must accept **kwargs: TRL passes dataset columns and extras by keyword"
        )
    for key in options:
        if key in RESERVED_NAMES:
            raise RewardError(f"reward '{spec_name}': option '{key}' is a data column or TRL argument")
        if key not in accepted:
            known = ", ".join(sorted(accepted)) or "none"
            raise RewardError(f"reward '{spec_name}' has no option '{key}' (options: {known})")
    missing = [
        p.name
        for p in params.values()
        if p.kind is p.KEYWORD_ONLY and p.default is p.empty and p.name in accepted and p.name not in options
    ]
    if missing:
        raise RewardError(f"reward '{spec_name}' needs option(s) {', '.join(missing)} in its kwargs")


def _unique(name: str, taken: set[str]) -> str:
    """`name`, or `name_2`, `name_3`... the first one not yet taken."""
    candidate, k = name, 2
    while candidate in taken:
        candidate, k = f"{name}_{k}", k + 1
    return candidate


def build_reward_funcs(
    specs: Iterable[RewardSpec], column_hook: ColumnHook | None = None, completion_prefix: str = ""
) -> tuple[list[BoundReward], list[float]]:
    """Resolve configured rewards into TRL `reward_funcs` and `reward_weights`, checking options now.

    `column_hook` rewrites each batch's columns before every reward sees them (multi-turn search passes one);
    `completion_prefix` (`prompt.prefill`) is put back in front of every completion before scoring.
    Names: a built-in keeps its registered name, a plug-in its function name; repeats get `_2`, `_3`...
    in config order. Built-ins are also dry-run on an empty batch so bad option values fail here.
    """
    funcs: list[BoundReward] = []
    weights: list[float] = []
    taken: set[str] = set()
    for spec in specs:
        fn = resolve(spec.name)
        options = dict(spec.kwargs or {})
        _check_options(spec.name, fn, options)
        try:
            weight = float(spec.weight)
        except (TypeError, ValueError):
            raise RewardError(f"reward '{spec.name}': weight must be a number, got {spec.weight!r}") from None
        if not math.isfinite(weight):
            raise RewardError(f"reward '{spec.name}': weight must be finite, got {spec.weight!r}")
        builtin = is_registered(spec.name)
        base = spec.name if builtin else getattr(fn, "__name__", type(fn).__name__)
        name = _unique(base, taken)
        taken.add(name)
        is_async = inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(fn.__call__)
        wrapper_cls = AsyncBoundReward if is_async else BoundReward
        on_error = getattr(spec, "on_error", "stop")
        if on_error not in ("stop", "skip"):
            raise RewardError(f"reward '{spec.name}': on_error must be 'stop' or 'skip', got {on_error!r}")
        timeout_s = getattr(spec, "timeout_s", None)
        if timeout_s is not None and not timeout_s > 0:
            raise RewardError(f"reward '{spec.name}': timeout_s must be a positive number, got {timeout_s!r}")
        bound = wrapper_cls(
            fn,
            options,
            name,
            on_error=on_error,
            timeout_s=timeout_s,
            domain_weights=getattr(spec, "domain_weights", None),
            column_hook=column_hook,
            completion_prefix=completion_prefix,
        )
        if builtin:
            try:
                fn(prompts=[], completions=[], **options)
            except TypeError as exc:
                raise RewardError(f"reward '{spec.name}': bad option value ({exc})") from exc
        funcs.append(bound)
        weights.append(weight)
    if not funcs:
        raise RewardError("no rewards configured: list at least one under 'rewards'")
    return funcs, weights
