"""The plain-text tool template (grpo_rag/tool_format.py): renders plain prompts exactly, passes TRL's checks,
parses model turns into search calls or content."""

from __future__ import annotations

from typing import Any

import pytest

from grpo_rag.prompts.templates import build_prompt, build_search_prompt
from grpo_rag.prompts.tool_format import TOOL_CHAT_TEMPLATE, install_tool_template
from grpo_rag.training.modeling import load_tokenizer


@pytest.fixture
def tok(tiny_run: dict[str, Any]) -> Any:
    return install_tool_template(load_tokenizer(tiny_run["model"]["name_or_path"]))


def test_template_renders_the_plain_prompt_token_for_token(tok: Any) -> None:
    messages = build_prompt(
        "How fast do generators start?", ["Diesel generators start fast."], ["T"], chat=True
    )
    plain = build_prompt(
        "How fast do generators start?", ["Diesel generators start fast."], ["T"], chat=False
    )
    chat_ids = tok.apply_chat_template(messages, tokenize=True, add_generation_prompt=True, return_dict=False)
    assert chat_ids == tok(plain)["input_ids"]


def test_template_passes_trls_tool_checks(tok: Any) -> None:
    from trl.chat_template_utils import is_chat_template_prefix_preserving, supports_tool_calling

    assert tok.chat_template == TOOL_CHAT_TEMPLATE
    assert supports_tool_calling(tok) and is_chat_template_prefix_preserving(tok)


def test_template_keeps_an_existing_chat_template(tok: Any) -> None:
    tok.chat_template = "{{ messages[0].content }}"
    tok.response_template = None
    assert install_tool_template(tok).chat_template == "{{ messages[0].content }}"
    assert tok.response_template is None


@pytest.mark.parametrize(
    ("text", "query", "content"),
    [
        (" <search>diesel generators</search></s>", "diesel generators", ""),
        (" <answer>ten seconds</answer> [1]</s>", None, "ten seconds"),
        (" no tags at all", None, "no tags at all"),
    ],
)
def test_turns_parse_into_tool_calls_or_content(tok: Any, text: str, query: str | None, content: str) -> None:
    from trl.chat_template_utils import parse_response

    prefix = tok.apply_chat_template(build_search_prompt("q?"), tokenize=False, add_generation_prompt=True)
    msg = parse_response(tok, tok(text, add_special_tokens=False)["input_ids"], prefix=prefix)
    calls = msg.get("tool_calls") or []
    assert [c["function"]["arguments"]["query"] for c in calls] == ([query] if query else [])
    assert content in msg["content"]


# --- ChatML models whose template drops tool calls (SmolLM2-135M-Instruct's) --------------------------------
SMOLLM2_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
CALL = {"type": "function", "function": {"name": "search", "arguments": {"query": "diesel generators"}}}


@pytest.fixture
def chatml(tiny_run: dict[str, Any]) -> Any:
    tok = load_tokenizer(tiny_run["model"]["name_or_path"])
    tok.chat_template = SMOLLM2_TEMPLATE
    tok.response_template = None
    return tok


def test_chatml_template_without_tool_calls_gets_one_trl_accepts(chatml: Any) -> None:
    from trl.chat_template_utils import is_chat_template_prefix_preserving, supports_tool_calling

    assert not supports_tool_calling(chatml)  # what TRL refuses for SmolLM2 as shipped
    original = SMOLLM2_TEMPLATE
    plain = [{"role": "user", "content": "q?"}, {"role": "assistant", "content": "a"}]
    before = chatml.apply_chat_template(plain, tokenize=False)
    install_tool_template(chatml)
    assert chatml.chat_template != original
    assert supports_tool_calling(chatml) and is_chat_template_prefix_preserving(chatml)
    # the same turns, the same default system message: conversations without tools render as before
    assert chatml.apply_chat_template(plain, tokenize=False) == before
    assert "named SmolLM" in before


@pytest.mark.parametrize(
    ("text", "query", "content"),
    [
        (
            '<tool_call>\n{"name": "search", "arguments": {"query": "diesel generators"}}\n</tool_call><|im_end|>',
            "diesel generators",
            "",
        ),
        ("<answer>ten seconds</answer> [1]<|im_end|>", None, "ten seconds"),
    ],
)
def test_chatml_turns_parse_with_trls_parser(chatml: Any, text: str, query: str | None, content: str) -> None:
    from trl.chat_template_utils import parse_response

    install_tool_template(chatml)
    prefix = chatml.apply_chat_template(build_search_prompt("q?"), tokenize=False, add_generation_prompt=True)
    msg = parse_response(chatml, chatml(text, add_special_tokens=False)["input_ids"], prefix=prefix)
    calls = msg.get("tool_calls") or []
    assert [c["function"]["arguments"]["query"] for c in calls] == ([query] if query else [])
    assert content in (msg.get("content") or "")


def test_chatml_assistant_mask_covers_model_turns_not_search_results(chatml: Any) -> None:
    install_tool_template(chatml)
    messages = [
        *build_search_prompt("q?"),
        {"role": "assistant", "content": "", "tool_calls": [CALL]},
        {"role": "tool", "name": "search", "content": "[1] RESULT TEXT"},
        {"role": "assistant", "content": "<answer>ten</answer> [1]"},
    ]
    out = chatml.apply_chat_template(
        messages, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
    )
    trained = chatml.decode([i for i, m in zip(out["input_ids"], out["assistant_masks"], strict=True) if m])
    assert "diesel generators" in trained and "ten</answer>" in trained
    assert trained.count("<|im_end|>") == 2  # each model turn learns to stop
    assert "RESULT" not in trained and "Question" not in trained
