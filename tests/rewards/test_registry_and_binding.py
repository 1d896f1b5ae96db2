"""Tests for the reward registry and plug-ins: `registry.resolve`, `registry.available`, `binding`."""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grpo_rag.errors import RewardError
from grpo_rag.rewards import builtin as rewards
from grpo_rag.rewards.binding import build_reward_funcs
from grpo_rag.rewards.registry import available, resolve

REPO = Path(__file__).resolve().parents[2]
BUILTINS = ("exact_match", "f1", "char_similarity", "format", "grounded", "citation", "abstain", "length")
ROW: dict[str, Any] = {
    "answers": ["480 kW"],
    "passages": ["The turbine at Kelso delivers 480 kW.", "Kelso is a town.", "A rival is rated at 480 kW."],
    "passage_ids": ["kelso-1", "kelso-2", "dk-1"],
    "gold_ids": ["kelso-1"],
    "answerable": True,
    "domain": "energy",
    "question": "How much power does the Kelso turbine deliver?",
}


@dataclass
class Spec:
    """Duck-typed stand-in for the config module's reward entry."""

    name: str
    weight: float = 1.0
    kwargs: dict[str, Any] = field(default_factory=dict)


PLUGIN = '''
def scaled(prompts, completions, scale: float = 1.0, **kwargs):
    """Returns `scale` for every completion."""
    return [scale for _ in completions]


def wrong_length(prompts, completions, **kwargs):
    """Returns one value too many."""
    return [0.0] * (len(completions) + 1)


async def later(prompts, completions, **kwargs):
    """An async reward."""
    return [0.25 for _ in completions]


NOT_A_FUNCTION = 3
'''


@pytest.fixture
def plugin_file(tmp_path: Path) -> Path:
    path = tmp_path / "plugins" / "myrewards.py"
    path.parent.mkdir()
    path.write_text(PLUGIN)
    return path


def test_available_lists_builtins_with_docstrings() -> None:
    listed = dict(available())
    assert set(BUILTINS) <= set(listed)
    for name, doc in listed.items():
        assert doc, f"{name} has no docstring"
        assert "\n" not in doc
        assert inspect.getdoc(resolve(name))


def test_unknown_name_lists_known_and_closest() -> None:
    with pytest.raises(RewardError) as info:
        resolve("exact_macth")
    message = str(info.value)
    assert "did you mean 'exact_match'" in message
    for name, _ in available():
        assert name in message


def test_resolve_module_function() -> None:
    assert resolve("grpo_rag.rewards.builtin:f1") is rewards.f1
    with pytest.raises(RewardError, match="no_such_pkg.mod:fn"):
        resolve("no_such_pkg.mod:fn")


def test_resolve_file_function(plugin_file: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fn = resolve(f"{plugin_file}:scaled")
    assert fn(prompts=["p"], completions=["c"], scale=3.0) == [3.0]
    monkeypatch.chdir(plugin_file.parent.parent)
    assert resolve("plugins/myrewards.py:scaled")(prompts=[], completions=["c"]) == [1.0]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        ("plugins/missing.py:scaled", "file not found"),
        ("plugins/myrewards.py:absent", "no attribute 'absent'"),
        ("plugins/myrewards.py:NOT_A_FUNCTION", "not callable"),
        ("plugins/myrewards.py", "name the function"),
    ],
)
def test_resolve_errors_name_the_spec(
    spec: str, match: str, plugin_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(plugin_file.parent.parent)
    with pytest.raises(RewardError, match=match) as info:
        resolve(spec)
    assert spec in str(info.value)


def test_plugin_import_failure_is_a_reward_error(tmp_path: Path) -> None:
    bad = tmp_path / "broken.py"
    bad.write_text("def oops(:\n")
    with pytest.raises(RewardError, match="SyntaxError"):
        resolve(f"{bad}:oops")


def test_build_binds_options_and_names_uniquely(plugin_file: Path) -> None:
    specs = [
        Spec("f1"),
        Spec("citation", 0.5, {"mode": "precision"}),
        Spec("f1", 2.0),
        Spec(f"{plugin_file}:scaled", 0.1, {"scale": 4.0}),
        Spec(f"{plugin_file}:scaled"),
    ]
    funcs, weights = build_reward_funcs(specs)
    assert [f.__name__ for f in funcs] == ["f1", "citation", "f1_2", "scaled", "scaled_2"]
    assert weights == [1.0, 0.5, 2.0, 0.1, 1.0]
    columns = {key: [value] for key, value in ROW.items()}
    completion = ["<answer>480 kW</answer> [1][2]"]
    extras = {"completion_ids": [[1, 2]], "trainer_state": None, "log_metric": print}
    assert funcs[1](prompts=["p"], completions=completion, **columns, **extras) == [0.5]
    assert funcs[3](prompts=["p"], completions=completion, **extras) == [4.0]
    assert funcs[4](prompts=["p"], completions=completion) == [1.0]


@pytest.mark.parametrize(
    ("spec", "match"),
    [
        (Spec("f1", kwargs={"bogus": 1}), "no option 'bogus'"),
        (Spec("citation", kwargs={"mode": "accuracy"}), "mode must be one of"),
        (Spec("length", kwargs={"budget": "ten"}), "bad option value"),
        (Spec("abstain", kwargs={"answers": ["x"]}), "option 'answers' is a data column"),
        (Spec("f1", weight="heavy"), "weight must be a number"),  # type: ignore[arg-type]
        (Spec("f1", weight=float("nan")), "weight must be finite"),
    ],
)
def test_build_rejects_bad_specs(spec: Spec, match: str) -> None:
    with pytest.raises(RewardError, match=match):
        build_reward_funcs([spec])


def test_build_rejects_empty_list() -> None:
    with pytest.raises(RewardError, match="no rewards"):
        build_reward_funcs([])


def test_bad_plugin_output_names_the_reward(plugin_file: Path) -> None:
    (fn,), _ = build_reward_funcs([Spec(f"{plugin_file}:wrong_length")])
    with pytest.raises(RewardError, match="'wrong_length' returned 2 values for 1 completions"):
        fn(prompts=["p"], completions=["c"])


def test_async_plugin_stays_async(plugin_file: Path) -> None:
    (fn,), _ = build_reward_funcs([Spec(f"{plugin_file}:later")])
    assert inspect.iscoroutinefunction(fn.__call__)
    assert asyncio.run(fn(prompts=["p"], completions=["a", "b"])) == [0.25, 0.25]


def test_example_plugins_load_and_run(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(REPO)
    specs = [
        Spec("rewards/brevity.py:short_answer", 0.5, {"max_words": 2}),
        Spec("rewards/keywords.py:mentions_domain_term", 0.2, {"terms": {"energy": ["kW"]}, "bonus": 0.5}),
    ]
    (brevity, keywords), weights = build_reward_funcs(specs)
    assert weights == [0.5, 0.2]
    assert (brevity.__name__, keywords.__name__) == ("short_answer", "mentions_domain_term")
    completions = [
        "<answer>480 kW</answer> [1]",
        "<answer>about 480 kW</answer>",
        "<answer>1998</answer>",
        "none",
    ]
    assert brevity(prompts=[""] * 4, completions=completions) == [1.0, 0.5, 1.0, 0.0]
    domains = ["energy", "energy", "energy", "history"]
    assert keywords(prompts=[""] * 4, completions=completions, domain=domains) == [0.5, 0.5, 0.0, None]
    for spec in specs:
        assert inspect.getdoc(resolve(spec.name))


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([1.0, float("nan")], r"'bad' returned nan for sample 1; rewards must be finite"),
        ([float("inf"), 0.0], r"'bad' returned inf for sample 0"),
        ([0.0, "1"], r"'bad' returned '1' for sample 1; rewards must be numbers or None"),
        ([True, 0.0], r"returned True for sample 0"),
        (0.5, r"'bad' returned float, expected a list"),
    ],
)
def test_non_finite_and_non_numeric_rewards_are_errors(values: object, match: str) -> None:
    from grpo_rag.rewards.binding import BoundReward

    fn = BoundReward(lambda prompts, completions, **kw: values, {}, "bad")
    with pytest.raises(RewardError, match=match):
        fn(prompts=["p", "p"], completions=["a", "b"])


def _boom(prompts: object, completions: object, **kw: object) -> list[float | None]:
    raise ZeroDivisionError("plug-in bug")


def _slow(prompts: object, completions: object, **kw: object) -> list[float | None]:

    time.sleep(2)
    return [1.0] * len(completions)  # type: ignore[arg-type]


def test_raising_plugin_stops_or_skips() -> None:
    from grpo_rag.rewards.binding import BoundReward

    with pytest.raises(RewardError, match="reward 'boom' raised ZeroDivisionError: plug-in bug"):
        BoundReward(_boom, {}, "boom")(prompts=["p"], completions=["c"])
    with pytest.warns(RuntimeWarning, match="skipping it for this batch"):
        assert BoundReward(_boom, {}, "boom", on_error="skip")(prompts=["p"], completions=["c", "d"]) == [
            None,
            None,
        ]


def test_hanging_plugin_times_out() -> None:

    from grpo_rag.rewards.binding import BoundReward

    start = time.monotonic()
    with pytest.raises(RewardError, match="reward 'slow' took longer than its timeout_s=0.2"):
        BoundReward(_slow, {}, "slow", timeout_s=0.2)(prompts=["p"], completions=["c"])
    assert time.monotonic() - start < 1.5
    assert BoundReward(_slow, {}, "slow", timeout_s=5)(prompts=["p"], completions=["c"]) == [1.0]


@dataclass
class DomainSpec(Spec):
    """A reward entry with per-domain weights (the config's `domain_weights`)."""

    domain_weights: dict[str, float] = field(default_factory=dict)


def test_domain_weights_scale_each_sample_by_its_domain(plugin_file: Path) -> None:
    funcs, weights = build_reward_funcs(
        [DomainSpec(f"{plugin_file}:scaled", 1.0, {"scale": 2.0}, {"pubmedqa": 0.5, "reddit": 0.0})]
    )
    batch = {"domain": ["pubmedqa", "reddit", "wikipedia"]}
    assert funcs[0](prompts=["p"] * 3, completions=["c"] * 3, **batch) == [1.0, 0.0, 2.0]
    assert weights == [1.0]
    with pytest.raises(RewardError, match="no 'domain' column"):
        funcs[0](prompts=["p"], completions=["c"])


def test_async_plugin_gets_the_column_hook_and_its_timeout(tmp_path: Path) -> None:
    """An async reward sees the rewritten columns (multi-turn passages) and obeys timeout_s, like a sync one."""
    plugin = tmp_path / "slow.py"
    plugin.write_text(
        "import asyncio\n\n"
        "async def seen(prompts, completions, passages, **kw):\n"
        "    return [float(len(p)) for p in passages]\n\n"
        "async def slow(prompts, completions, **kw):\n"
        "    await asyncio.sleep(5)\n"
        "    return [1.0] * len(completions)\n"
    )

    def hook(completions: Any, columns: Any) -> dict[str, Any]:
        return {**columns, "passages": [["a", "b", "c"]] * len(completions)}

    (fn,), _ = build_reward_funcs([Spec(f"{plugin}:seen")], hook)
    assert asyncio.run(fn(prompts=["p"], completions=["c"], passages=[[]])) == [3.0]
    spec = Spec(f"{plugin}:slow")
    spec.timeout_s = 0.05  # type: ignore[attr-defined]
    (fn,), _ = build_reward_funcs([spec])
    with pytest.raises(RewardError, match="took longer than its timeout_s=0.05"):
        asyncio.run(fn(prompts=["p"], completions=["c"]))
