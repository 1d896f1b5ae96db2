"""Tests for grpo_rag.rewards: each built-in on hand-made and adversarial cases, the registry, plug-ins."""

from __future__ import annotations

import asyncio
import inspect
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from grpo_rag import rewards
from grpo_rag.errors import RewardError
from grpo_rag.reward_binding import build_reward_funcs
from grpo_rag.rewards import available, resolve
from grpo_rag.scoring import normalize_answer

REPO = Path(__file__).resolve().parents[1]

PASSAGES = [
    "The turbine at Kelso delivers 480 kW at full load and was built in 1998.",
    "Kelso is a town in the Scottish Borders with a population of about 5,000.",
    "A rival design from Denmark was also rated at 480 kW.",
]
ANSWERABLE: dict[str, Any] = {
    "answers": ["480 kW"],
    "passages": PASSAGES,
    "passage_ids": ["kelso-1", "kelso-2", "dk-1"],
    "gold_ids": ["kelso-1"],
    "answerable": True,
    "domain": "energy",
    "question": "How much power does the Kelso turbine deliver?",
}
UNANSWERABLE = {**ANSWERABLE, "answers": [], "gold_ids": [], "answerable": False}
CLOSED_BOOK = {**ANSWERABLE, "passages": [], "passage_ids": [], "gold_ids": []}

BUILTINS = ("exact_match", "f1", "format", "grounded", "citation", "abstain")


def run_reward(name: str, completions: list[Any], row: dict[str, Any], **options: Any) -> list[float | None]:
    """Call a registered reward the way TRL does: one column item per completion, plus TRL's extras."""
    columns = {key: [value] * len(completions) for key, value in row.items()}
    fn = resolve(name)
    return fn(
        prompts=["prompt"] * len(completions),
        completions=completions,
        completion_ids=[[0] * 3] * len(completions),
        trainer_state=None,
        log_extra=lambda *a, **k: None,
        log_metric=lambda *a, **k: None,
        **columns,
        **options,
    )


LONG_TAIL = "<answer>480 kW</answer> [1]" + " and so on" * 5000  # 50k characters of rambling
LONG_UNCLOSED = "<answer>" + "480 kW " * 7200  # 50k characters, never closed

# completion -> expected (exact_match, f1, format, grounded, citation f1, abstain) on the ANSWERABLE row.
ANSWERABLE_CASES = {
    "correct": ("<answer>480 kW</answer> [1]", (1.0, 1.0, 1.0, 1.0, 1.0, 0.0)),
    # Supported by what it cites, but not by the gold passage: only the citation reward objects.
    "right answer, wrong passage": ("<answer>480 kW</answer> [3]", (1.0, 1.0, 1.0, 1.0, 0.0, 0.0)),
    # [7] was never retrieved: not grounded, format loses half, citation precision 1/2.
    "cites unretrieved passage": ("<answer>480 kW</answer> [1][7]", (1.0, 1.0, 0.5, 0.0, 2 / 3, 0.0)),
    "no citation": ("<answer>480 kW</answer>", (1.0, 1.0, 0.5, 0.0, 0.0, 0.0)),
    # The whole passage pasted (14 tokens): F1 is 2*(2/14)*1/(2/14+1) = 1/4 and it is not a grounded answer.
    "whole passage pasted": (f"<answer>{PASSAGES[0]}</answer> [1]", (0.0, 0.25, 1.0, 0.0, 1.0, 0.0)),
    "unicode and punctuation": ("<answer>４８０ ｋＷ.</answer> [1]", (1.0, 1.0, 1.0, 1.0, 1.0, 0.0)),
    "smart quotes": ("<answer>“480 kW”</answer> [1]", (1.0, 1.0, 1.0, 1.0, 1.0, 0.0)),
    "empty answer": ("<answer></answer> [1]", (0.0, 0.0, 0.25, 0.0, 1.0, 0.0)),
    "missing answer tag": ("480 kW [1]", (0.0, 0.0, 0.0, 0.0, 1.0, 0.0)),
    "text before the tag": ("Sure. <answer>480 kW</answer> [1]", (1.0, 1.0, 0.25, 1.0, 1.0, 0.0)),
    "very long tail": (LONG_TAIL, (1.0, 1.0, 0.25, 1.0, 1.0, 0.0)),
    "very long unclosed": (LONG_UNCLOSED, (0.0, 2 / 7201, 0.25, 0.0, 0.0, 0.0)),
    "abstains on answerable": ("<answer>unanswerable</answer>", (0.0, 0.0, 1.0, 0.0, 0.0, -0.5)),
    "conversational": (
        [{"role": "assistant", "content": "<answer>480 kW</answer> [1]"}],
        (1.0, 1.0, 1.0, 1.0, 1.0, 0.0),
    ),
}


@pytest.mark.parametrize("case", list(ANSWERABLE_CASES))
def test_builtins_on_answerable_question(case: str) -> None:
    completion, expected = ANSWERABLE_CASES[case]
    start = time.perf_counter()
    got = tuple(run_reward(name, [completion], ANSWERABLE)[0] for name in BUILTINS)
    assert time.perf_counter() - start < 2.0
    assert got == pytest.approx(expected), dict(zip(BUILTINS, got, strict=True))


# completion -> expected (exact_match, f1, format, grounded, citation, abstain) on the UNANSWERABLE row.
UNANSWERABLE_CASES = {
    "abstains": ("<answer>Unanswerable.</answer>", (1.0, 1.0, 1.0, None, None, 1.0)),
    "abstains in chat form": (
        [{"role": "assistant", "content": "<answer>unanswerable</answer>"}],
        (1.0, 1.0, 1.0, None, None, 1.0),
    ),
    "answers anyway": ("<answer>480 kW</answer> [1]", (0.0, 0.0, 1.0, None, None, 0.0)),
    "no tag": ("I do not know", (0.0, 0.0, 0.0, None, None, 0.0)),
}


@pytest.mark.parametrize("case", list(UNANSWERABLE_CASES))
def test_builtins_on_unanswerable_question(case: str) -> None:
    completion, expected = UNANSWERABLE_CASES[case]
    got = tuple(run_reward(name, [completion], UNANSWERABLE)[0] for name in BUILTINS)
    assert got == expected


def test_closed_book_format_and_grounded() -> None:
    completions = ["<answer>480 kW</answer>", "<answer>480 kW</answer> [1]"]
    assert run_reward("format", completions, CLOSED_BOOK) == [1.0, 0.5]
    assert run_reward("grounded", completions, CLOSED_BOOK) == [None, None]
    assert run_reward("citation", completions, CLOSED_BOOK) == [None, None]


def test_batch_keeps_alignment() -> None:
    completions = ["<answer>480 kW</answer> [1]", "<answer>5,000</answer> [2]", "nothing"]
    columns = {key: [value] * 3 for key, value in ANSWERABLE.items()}
    columns["answers"] = [["480 kW"], ["5000"], ["x"]]
    columns["gold_ids"] = [["kelso-1"], ["kelso-1"], []]
    kwargs = {"prompts": ["p"] * 3, "completions": completions, **columns}
    assert rewards.exact_match(**kwargs) == [1.0, 1.0, 0.0]
    assert rewards.grounded(**kwargs) == [1.0, 1.0, 0.0]
    assert rewards.citation(**kwargs) == [1.0, 0.0, None]


def test_citation_modes() -> None:
    completion = ["<answer>480 kW</answer> [1][2]"]
    row = {**ANSWERABLE, "gold_ids": ["kelso-1", "dk-1"]}
    assert run_reward("citation", completion, row, mode="precision") == [0.5]
    assert run_reward("citation", completion, row, mode="recall") == [0.5]
    assert run_reward("citation", completion, row, mode="f1") == [0.5]
    with pytest.raises(RewardError, match="mode"):
        run_reward("citation", completion, row, mode="accuracy")


def test_abstain_penalty_option() -> None:
    assert run_reward("abstain", ["<answer>unanswerable</answer>"], ANSWERABLE, penalty=2.0) == [-2.0]


def test_length_words_and_tokens() -> None:
    words = ["one two three four", "1 2 3 4 5 6", "1 2 3 4 5 6 7 8", "x " * 25_000]
    assert rewards.length(prompts=[""] * 4, completions=words, budget=4, unit="words") == [
        0.0,
        -0.5,
        -1.0,
        -1.0,
    ]
    ids = [[1] * 10, [1] * 15, [1] * 40]
    got = rewards.length(prompts=[""] * 3, completions=["a", "b", "c"], completion_ids=ids, budget=10)
    assert got == [0.0, -0.5, -1.0]
    # Without completion_ids (e.g. in evaluation) words stand in for tokens.
    assert rewards.length(prompts=[""], completions=["a b c"], budget=2) == [-0.5]


def test_missing_required_column_is_a_reward_error() -> None:
    with pytest.raises(RewardError, match="'answers'"):
        rewards.exact_match(prompts=["p"], completions=["<answer>x</answer>"])


# ---------------------------------------------------------------------------------------------------------
# Registry and plug-ins


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
    assert set(BUILTINS) | {"length"} <= set(listed)
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
    assert resolve("grpo_rag.rewards:f1") is rewards.f1
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
    columns = {key: [value] for key, value in ANSWERABLE.items()}
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
    from grpo_rag.reward_binding import BoundReward

    fn = BoundReward(lambda prompts, completions, **kw: values, {}, "bad")
    with pytest.raises(RewardError, match=match):
        fn(prompts=["p", "p"], completions=["a", "b"])


def _boom(prompts: object, completions: object, **kw: object) -> list[float | None]:
    raise ZeroDivisionError("plug-in bug")


def _slow(prompts: object, completions: object, **kw: object) -> list[float | None]:
    import time

    time.sleep(2)
    return [1.0] * len(completions)  # type: ignore[arg-type]


def test_raising_plugin_stops_or_skips() -> None:
    from grpo_rag.reward_binding import BoundReward

    with pytest.raises(RewardError, match="reward 'boom' raised ZeroDivisionError: plug-in bug"):
        BoundReward(_boom, {}, "boom")(prompts=["p"], completions=["c"])
    with pytest.warns(RuntimeWarning, match="skipping it for this batch"):
        assert BoundReward(_boom, {}, "boom", on_error="skip")(prompts=["p"], completions=["c", "d"]) == [
            None,
            None,
        ]


def test_hanging_plugin_times_out() -> None:
    import time

    from grpo_rag.reward_binding import BoundReward

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


@pytest.mark.parametrize(
    ("completion", "expected"),
    [
        ("<answer>480 kW</answer> [1]", 1.0),
        ("<answer>48 kW</answer> [1]", 2 * 5 / 11),  # a digit dropped in the copy: partial credit, EM 0
        ("<answer>480 MW</answer> [3]", 2 * 5 / 12),  # another unit: same credit as any 1-char slip
        ("<answer></answer> [1]", 0.0),
        ("no tag at all", 0.0),
        (f"<answer>{PASSAGES[0]}</answer> [1]", 12 / (len(normalize_answer(PASSAGES[0])) + 6)),  # pasted: low
        ("<answer>４８０ ｋＷ</answer> [1]", 1.0),  # full-width unicode normalises to the gold
        (LONG_UNCLOSED, 12 / (len(normalize_answer(LONG_UNCLOSED[8:])) + 6)),  # bounded, not matched: ~0
    ],
)
def test_char_similarity_partial_credit_for_near_misses(completion: str, expected: float) -> None:
    start = time.perf_counter()
    assert run_reward("char_similarity", [completion], ANSWERABLE) == [pytest.approx(expected, abs=1e-3)]
    assert time.perf_counter() - start < 1.0
    assert run_reward("char_similarity", ["<answer>Unanswerable</answer>"], UNANSWERABLE) == [1.0]
    assert run_reward("char_similarity", ["<answer>480 kW</answer>"], UNANSWERABLE) == [0.0]
