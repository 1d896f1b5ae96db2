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
