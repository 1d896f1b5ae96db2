"""Multi-turn search rollouts: the search environment, reward columns, the loss mask (TRL's tool loop on the
tiny model with scripted turns), parse failures, and multi-turn evaluation (template: test_tool_format.py)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import pytest
import torch

from grpo_rag.data.io import load_corpus
from grpo_rag.errors import ConfigError
from grpo_rag.prompts.tool_format import TOOL_CHAT_TEMPLATE, install_tool_template
from grpo_rag.retrieval.bm25 import BM25Retriever
from grpo_rag.rewards.binding import build_reward_funcs
from grpo_rag.rollout.search import (
    SearchEnvironment,
    SearchOptions,
    malformed_calls,
    rollout_columns,
)
from grpo_rag.sections import from_dict
from grpo_rag.training.modeling import load_tokenizer


def _multi_turn_raw(tiny_run: dict[str, Any], out: Path, **rollout: Any) -> dict[str, Any]:
    raw = copy.deepcopy(tiny_run)
    raw["training"].update(output_dir=str(out), max_completion_length=200)
    raw["rollout"] = {"mode": "multi_turn", "max_calls": 2, "k": 1, **rollout}
    raw["rewards"] = [
        {"name": "exact_match"},
        {"name": "grounded"},
        {"name": "format"},
        {"name": "search_budget", "kwargs": {"budget": 1}},
    ]
    return raw


@pytest.fixture
def tok(tiny_run: dict[str, Any]) -> Any:
    return install_tool_template(load_tokenizer(tiny_run["model"]["name_or_path"]))


# --- the search environment -------------------------------------------------------------------------------
def test_search_numbers_passages_in_order_of_first_retrieval(retriever: BM25Retriever) -> None:
    env = SearchEnvironment(retriever, SearchOptions(k=2, max_calls=3))
    env.reset(domain="datacenter")
    first = env.search("diesel generators")
    assert first.startswith("[1] ") and "\n[2] " in first
    again = env.search("diesel generators start")  # same passages: same numbers, nothing appended
    assert len(env.passage_ids) == len(set(env.passage_ids)) <= 4
    assert env.passage_ids[0] == "dc-03" and "[1] " in again
    env.search("night trams")
    assert env.calls == 3 and "mob-05" in env.passage_ids
    with pytest.raises(ValueError, match="budget"):
        env.search("bike")
    env.reset()
    assert env.passage_ids == [] and env.calls == 0


def test_search_domain_filter_keeps_the_questions_domain(retriever: BM25Retriever) -> None:
    env = SearchEnvironment(retriever, SearchOptions(k=3, own_domain=True))
    env.reset(domain="mobility")
    env.search("diesel generators trams")
    assert env.passage_ids and all(pid.startswith("mob-") for pid in env.passage_ids)


@pytest.mark.parametrize("query", ["", "   ", "<search>x", "x</s>", 3])
def test_malformed_queries_are_counted_errors(retriever: BM25Retriever, query: Any) -> None:
    env = SearchEnvironment(retriever, SearchOptions())
    with pytest.raises(ValueError, match="malformed"):
        env.search(query)
    assert env.errors == 1 and env.calls == 1 and env.passage_ids == []


def test_malformed_calls_counts_leftover_tags() -> None:
    assert malformed_calls([{"role": "assistant", "content": "<search>x <answer>a</answer>"}]) == 1
    assert malformed_calls([{"role": "tool", "content": "<search>"}]) == 0
    assert malformed_calls(" <answer>a</answer> [1]") == 0


# --- rewards see every passage retrieved across turns -----------------------------------------------------
def _env_after(retriever: BM25Retriever, *queries: str) -> SearchEnvironment:
    env = SearchEnvironment(retriever, SearchOptions(k=1, max_calls=3))
    env.reset()
    for q in queries:
        env.search(q)
    return env


def test_rewards_read_passages_from_all_search_calls(retriever: BM25Retriever) -> None:
    from grpo_rag.config import RewardConfig

    funcs, _ = build_reward_funcs(
        [
            RewardConfig("grounded"),
            RewardConfig("citation"),
            RewardConfig("format"),
            RewardConfig("search_budget", kwargs={"budget": 1}),
        ],
        rollout_columns,  # what `build_parts` passes for a multi-turn config
    )
    env = _env_after(retriever, "night trams", "diesel generators")  # gold dc-03 is passage [2]
    completions = [[{"role": "assistant", "content": " <answer>within ten seconds</answer> [2]"}]] * 2
    columns = {
        "environments": [env, env],
        "passages": [[], []],
        "passage_ids": [[], []],
        "gold_ids": [["dc-03"]] * 2,
        "answers": [["within ten seconds"]] * 2,
        "answerable": [True] * 2,
    }
    grounded, citation, fmt, budget = (f(["p"] * 2, completions, **columns) for f in funcs)
    assert grounded == [1.0, 1.0] and citation == [1.0, 1.0] and fmt == [1.0, 1.0]
    assert budget == [-0.5, -0.5]  # two calls, budget one
    wrong = [[{"role": "assistant", "content": " <answer>within ten seconds</answer> [1]"}]] * 2
    assert funcs[0](["p"] * 2, wrong, **columns) == [0.0, 0.0]  # [1] is the trams passage


def test_rollout_columns_leave_single_shot_columns_alone() -> None:
    cols = {"passages": [["a"]], "environments": None}
    assert rollout_columns(["x"], cols)["passages"] == [["a"]]


def test_search_errors_make_format_zero(retriever: BM25Retriever) -> None:
    from grpo_rag.rewards.builtin import format_reward

    env = _env_after(retriever, "diesel generators")
    with pytest.raises(ValueError):
        env.search("<search>")
    good = [{"role": "assistant", "content": " <answer>within ten seconds</answer> [1]"}]
    leftover = [{"role": "assistant", "content": " <search>diesel <answer>within ten seconds</answer> [1]"}]
    clean = _env_after(retriever, "diesel generators")
    cols = rollout_columns([good, leftover, good], {"environments": [env, clean, clean]})
    assert cols["search_errors"] == [1, 1, 0]
    assert format_reward([], [good, leftover, good], **cols) == [0.0, 0.0, 1.0]


# --- search_budget: hand-made and adversarial cases -------------------------------------------------------
@pytest.mark.parametrize(
    ("calls", "budget", "penalty", "expected"),
    [
        ([0, 1, 2, 5], 2, 0.5, [0.0, 0.0, 0.0, -1.5]),
        ([3], 0, 1.0, [-3.0]),
        ([None, 4], 1, 0.25, [None, -0.75]),
        ([7], 7, 100.0, [0.0]),
        ([9], 1, 0.0, [0.0]),
    ],
)
def test_search_budget_values(calls: list[Any], budget: int, penalty: float, expected: list[Any]) -> None:
    from grpo_rag.rewards.builtin import search_budget

    out = search_budget([], ["c"] * len(calls), budget=budget, penalty=penalty, search_calls=calls)
    assert out == expected


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"budget": -1}, "budget"),
        ({"budget": True}, "budget"),
        ({"budget": 1.5}, "budget"),
        ({"penalty": -0.1}, "penalty"),
        ({"penalty": math.nan}, "penalty"),
        ({"penalty": math.inf}, "penalty"),
        ({"search_calls": [-1]}, "counts"),
        ({"search_calls": [True]}, "counts"),
        ({"search_calls": [1.0]}, "counts"),
        ({"search_calls": [1, 2]}, "2 items for 1"),
        ({"search_calls": None}, "search_calls"),
    ],
)
def test_search_budget_rejects_bad_input(kwargs: dict[str, Any], match: str) -> None:
    from grpo_rag.errors import RewardError
    from grpo_rag.rewards.builtin import search_budget

    args = {"search_calls": [1], **kwargs}
    if args["search_calls"] is None:
        del args["search_calls"]
    with pytest.raises(RewardError, match=match):
        search_budget([], ["c"], **args)


def test_rollout_config_is_validated(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    raw = _multi_turn_raw(tiny_run, tmp_path)
    assert from_dict(raw).rollout.max_calls == 2
    for bad, match in [
        ({"mode": "multi"}, "rollout.mode"),
        ({"max_calls": 0}, "max_calls"),
        ({"k": 0}, "rollout.k"),
        ({"max_call": 2}, "did you mean 'max_calls'"),
    ]:
        broken = copy.deepcopy(raw)
        broken["rollout"].update(bad)
        with pytest.raises(ConfigError, match=match):
            from_dict(broken)
    raw["training"]["max_tool_calling_iterations"] = 3
    with pytest.raises(ConfigError, match="rollout.max_calls"):
        from_dict(raw)


# --- TRL's tool loop on the tiny model, with scripted model turns -----------------------------------------
def _scripted_trainer(tiny_run: dict[str, Any], tmp_path: Path, turns: list[str]) -> tuple[Any, list[dict]]:
    """A multi-turn trainer whose generation returns `turns[i]` on the i-th call (one row: question q1)."""
    from grpo_rag.training.grpo import build_trainer

    trainer, _ = build_trainer(from_dict(_multi_turn_raw(tiny_run, tmp_path / "run")))
    tok = trainer.processing_class
    scripted = [tok(t, add_special_tokens=False)["input_ids"] + [tok.eos_token_id] for t in turns]
    calls = {"n": 0}

    def fake_generate(prompt_ids: list[list[int]], *args: Any, **kwargs: Any) -> tuple[list[list[int]], None]:
        ids = scripted[min(calls["n"], len(scripted) - 1)]
        calls["n"] += 1
        return [list(ids) for _ in prompt_ids], None

    trainer._generate_single_turn = fake_generate
    row = next(r for r in trainer.train_dataset if r["id"] == "q1")
    return trainer, [dict(row) for _ in range(trainer.args.num_generations)]


def test_tool_result_tokens_are_masked_out_of_the_loss(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    turns = [" <search>diesel generators</search>", " <answer>within ten seconds</answer> [1]"]
    trainer, inputs = _scripted_trainer(tiny_run, tmp_path, turns)
    tok = trainer.processing_class
    out = trainer._generate_and_score_completions(inputs)
    length = int(out["completion_mask"][0].sum())  # rows are right-padded
    mask = out["tool_mask"][0].tolist()[:length]
    ids = out["completion_ids"][0].tolist()[:length]
    n_call = len(tok(turns[0], add_special_tokens=False)["input_ids"]) + 1
    n_answer = len(tok(turns[1], add_special_tokens=False)["input_ids"]) + 1
    n_tool = len(ids) - n_call - n_answer
    assert mask == [1] * n_call + [0] * n_tool + [1] * n_answer  # model tokens 1, retrieved tokens 0
    tool_text = tok.decode(ids[n_call : n_call + n_tool])
    assert tool_text.lstrip(" ").startswith("\nResults:\n[1]") and "Diesel generators" in tool_text
    assert tool_text.endswith("Answer:")
    # Rewards saw the retrieved passage: the answer is exact, grounded and well-formed.
    metrics = trainer._metrics["train"]
    for name in ("exact_match", "grounded", "format"):
        assert metrics[f"rewards/{name}/mean"][-1] == 1.0, name
    assert metrics["search/calls"][-1] == 1.0
    # The policy loss sends no gradient through the retrieved tokens: the gradient w.r.t. their log-probs is
    # exactly zero, while every model-written token gets one. Without the tool mask they would get one too.
    out["advantages"] = torch.tensor([1.0, 0.5])
    trainer.current_gradient_accumulation_steps = 1  # set by Trainer.train(); compute_loss reads it
    grad = _token_grads(trainer, out)[0, :length]
    tool = torch.tensor(mask) == 0
    assert torch.all(grad[tool] == 0) and torch.all(grad[~tool] > 0)
    unmasked = _token_grads(trainer, {k: v for k, v in out.items() if k != "tool_mask"})[0, :length]
    assert torch.all(unmasked[tool] > 0)


def _token_grads(trainer: Any, inputs: dict[str, Any]) -> torch.Tensor:
    """|d loss / d log-prob| of every completion token under the policy (batch x completion length)."""
    captured: dict[str, torch.Tensor] = {}
    original = trainer._get_per_token_logps_and_entropies

    def spy(*args: Any, **kwargs: Any) -> Any:
        result = original(*args, **kwargs)  # (per-token log-probs, entropies, ...)
        if result[0].requires_grad:
            result[0].register_hook(lambda g: captured.setdefault("grad", g))
        return result

    trainer._get_per_token_logps_and_entropies = spy
    try:
        trainer.model.zero_grad()
        trainer.compute_loss(trainer.model, inputs).backward()
    finally:
        del trainer._get_per_token_logps_and_entropies
    return captured["grad"].abs()


def test_parse_failures_are_counted_and_scored_as_format_errors(
    tiny_run: dict[str, Any], tmp_path: Path
) -> None:
    turns = [" <search><search></search>", " </search> <answer>within ten seconds</answer> [1]"]
    trainer, inputs = _scripted_trainer(tiny_run, tmp_path, turns)
    trainer._generate_and_score_completions(inputs)  # must not raise
    metrics = trainer._metrics["train"]
    assert metrics["tools/failure_frequency"][-1] == 1.0  # the malformed query, reported by TRL
    assert metrics["search/format_errors"][-1] == 2.0  # that query plus the stray closing tag
    assert metrics["rewards/format/mean"][-1] == 0.0
    assert metrics["rewards/exact_match/mean"][-1] == 1.0  # the answer itself is still scored


# --- evaluation runs the same loop ------------------------------------------------------------------------
def test_evaluation_runs_the_search_loop(
    tiny_run: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from grpo_rag.evaluation import evaluate as ev
    from grpo_rag.evaluation import generate

    script = {
        "How fast do the diesel generators start?": [
            " <search>diesel generators</search>",
            " <answer>within ten seconds</answer> [1]",
        ]
    }

    def fake_ids(model: Any, tok: Any, texts: list[str], max_new_tokens: int) -> list[list[int]]:
        out = []
        for text in texts:
            turn = text.count("Results:")
            q = next((q for q in script if q in text), None)
            reply = script[q][turn] if q else " <search>night trams</search>"  # others search every turn
            out.append(tok(reply, add_special_tokens=False)["input_ids"] + [tok.eos_token_id])
        return out

    monkeypatch.setattr(generate, "_greedy_ids", fake_ids)
    cfg = from_dict(_multi_turn_raw(tiny_run, tmp_path / "run"))
    metrics = ev.evaluate(cfg, None, tmp_path / "eval")
    assert metrics["rollout"] == "multi_turn" and metrics["n"] == 5
    rows = {
        r["id"]: r
        for r in map(json.loads, (tmp_path / "eval" / "predictions.jsonl").read_text().splitlines())
    }
    assert (
        rows["q1"]["exact_match"] == 1.0
        and rows["q1"]["search_calls"] == 1.0
        and rows["q1"]["gold_recall"] == 1.0
    )
    assert rows["q1"]["passage_ids"] == ["dc-03"]
    assert rows["q4"]["search_calls"] == 2.0 and rows["q4"]["gold_recall"] == 1.0  # max_calls stops the loop
    assert rows["q2"]["gold_recall"] == 0.0
    assert metrics["search_calls"] == pytest.approx((1 + 2 + 2 + 2 + 2) / 5)
    assert "gold_recall" in (tmp_path / "eval" / "report.md").read_text()


# --- the warm start teaches the tool-call format ----------------------------------------------------------
@pytest.mark.parametrize("counterfactual", [0.0, 1.0])
def test_warm_start_conversations_search_then_answer(
    tok: Any, retriever: BM25Retriever, tiny_qa_path: Path, tiny_corpus_path: Path, counterfactual: float
) -> None:
    from trl.chat_template_utils import parse_response

    from grpo_rag.data.io import load_qa
    from grpo_rag.demo.bootstrap import BootstrapConfig, search_conversations

    corpus = load_corpus(str(tiny_corpus_path))
    qa = load_qa(str(tiny_qa_path), set(corpus["id"])).select(range(4))
    cfg = BootstrapConfig(search_fraction=1.0, counterfactual_fraction=counterfactual)
    prompts, completions = search_conversations(
        qa,
        retriever,
        SearchOptions(k=2, max_calls=2),
        tok,
        dict(zip(corpus["id"], corpus["text"], strict=True)),
        cfg,
        1,
    )
    assert len(prompts) == 4
    for row, prompt, completion in zip(qa, prompts, completions, strict=True):
        assert prompt.endswith("\nAnswer:") and completion.endswith(tok.eos_token)
        turns = completion.split("\nResults:\n")
        assert len(turns) == 2  # one search (the question itself for single-hop rows), then the answer
        first = parse_response(tok, tok(turns[0], add_special_tokens=False)["input_ids"], prefix=prompt)
        assert first["tool_calls"][0]["function"]["arguments"]["query"] == row["question"]
        answer = completion.rsplit("<answer>", 1)[1].split("</answer>")[0]
        assert answer in turns[1].rsplit("\nAnswer:", 1)[0]  # the answer is copied from a result
        if counterfactual == 0.0:
            assert answer == row["answers"][0]


def test_multi_turn_bootstrap_saves_the_tool_template(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    from grpo_rag.demo.bootstrap import bootstrap

    raw = copy.deepcopy(tiny_run)
    raw["model"]["name_or_path"] = str(tmp_path / "model")
    raw["rollout"] = {"mode": "multi_turn", "k": 2}
    raw["bootstrap"].update(sft_steps=2, search_fraction=1.0)
    bootstrap(from_dict(raw))
    tok = load_tokenizer(str(tmp_path / "model"))
    assert tok.chat_template == TOOL_CHAT_TEMPLATE
    assert len(tok("<search>", add_special_tokens=False)["input_ids"]) == 1
    # The single-shot embedded model is unchanged: plain text, no template.
    assert not load_tokenizer(tiny_run["model"]["name_or_path"]).chat_template


def test_dry_run_builds_what_train_builds_for_multi_turn(tiny_run: dict[str, Any], tmp_path: Path) -> None:
    """`--dry-run` and `train` share `build_parts`: search prompts, the tool-call limit, the column hook."""
    from grpo_rag.training.dry_run import dry_run
    from grpo_rag.training.grpo import build_trainer
    from grpo_rag.training.parts import build_parts

    cfg = from_dict(_multi_turn_raw(tiny_run, tmp_path / "run"))
    parts = build_parts(cfg, chat=False)
    assert parts.multi_turn and parts.options.context == "search" and parts.options.chat
    assert parts.args.max_tool_calling_iterations == 2
    assert all(f.column_hook is rollout_columns for f in parts.reward_funcs)
    data = next(c for c in dry_run(cfg) if c.what == "data")
    assert "multi-turn search prompts (up to 2 search calls, top-1" in data.detail
    trainer, _ = build_trainer(cfg)
    assert trainer.train_dataset[0]["passages"] == []  # the prompt holds the question; search finds passages
    assert all(f.column_hook is rollout_columns for f in trainer.reward_funcs)
