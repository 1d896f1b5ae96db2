"""The toolkit's plain-text tool-call format: a chat template and the matching response parser.

TRL's tool loop (`GRPOTrainer(environment_factory=...)`) only works through a chat template that can render
tool calls and tool results and is prefix-preserving, plus a `response_template` that `parse_response` uses
to find tool calls in generated text. Plain-text models (the embedded one, GPT-2-style hub models) have
neither, so this module supplies both. The template renders `[system, user]` exactly as the plain prompt
of `prompts.build_prompt` (`instructions\\n\\nQuestion: ...\\nAnswer:`), so plain and chat models share one
mechanism, and a search turn looks like ` <search>query</search></s>` followed by the numbered results:

    <s>INSTRUCTIONS\\n\\nQuestion: Q\\nAnswer: <search>Q</search></s>\\nResults:\\n[1] ...\\nAnswer: <answer>A</answer> [1]</s>

Only the toolkit's one-argument `search` tool is parsed back; other tools render generically (as JSON) so
that TRL's template checks pass, but are not parsed.

ChatML models whose own template drops tool calls (SmolLM2-135M-Instruct renders only `content`, so TRL
refuses it) get `chatml_tool_template`: the same `<|im_start|>role ... <|im_end|>` turns and default system
message, plus tool calls written as `<tool_call>{"name": ..., "arguments": ...}</tool_call>`, the format TRL's
own response parser for ChatML models (`trl.chat_template_utils.qwen3_template`) reads back.
"""

from __future__ import annotations

import json
import re
from typing import Any

SEARCH_OPEN = "<search>"
SEARCH_CLOSE = "</search>"
RESULTS_HEADER = "Results:"
TURN_PROMPT = "\nAnswer:"  # what every model turn starts with (the plain prompt's final line)

_TURN = "{{ '\\n" + TURN_PROMPT.strip() + "' }}"  # TURN_PROMPT as a Jinja expression

#: Jinja chat template: system, user, assistant (content and/or tool calls, ended by EOS), tool results.
#: Newlines are Jinja expressions because transformers renders templates with `trim_blocks`. Model turns sit in
#: `{% generation %}` markers (TRL's SFT `assistant_only_loss`: a warm start never trains on search results).
TOOL_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m.role == 'system' %}{{ m.content }}\n\n"
    "{% elif m.role == 'user' %}{{ m.content }}"
    "{% elif m.role == 'assistant' %}" + _TURN + "{% generation %}{{ m.content or '' }}"
    "{% for call in (m.tool_calls or []) %}"
    "{% set f = call.function if call.function is defined else call %}"
    "{% if f.name == 'search' and f.arguments is mapping and f.arguments|length == 1 and 'query' in f.arguments %}"
    " "
    + SEARCH_OPEN
    + "{{ f.arguments['query'] }}"
    + SEARCH_CLOSE
    + "{% else %} <call>{{ {'name': f.name, 'arguments': f.arguments} | tojson }}</call>"
    "{% endif %}"
    "{% endfor %}"
    "{{ eos_token }}{% endgeneration %}"
    "{% elif m.role == 'tool' %}{{ '\\n' }}" + RESULTS_HEADER + "\n{{ m.content }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + _TURN + "{% endif %}"
)


_IM_START, _IM_END = "<|im_start|>", "<|im_end|>"


def _jinja_text(text: str) -> str:
    """A Jinja expression printing `text` verbatim (newlines survive the template's whitespace trimming)."""
    return "{{ " + json.dumps(text) + " }}"


def chatml_tool_template(default_system: str | None) -> str:
    """A prefix-preserving ChatML template that renders tool calls, tool results and the tool list.

    Assistant turns (with their end-of-turn token) sit inside `{% generation %}` markers, so TRL's SFT can
    train on them alone (`assistant_only_loss`) and never on the search results between them.
    """
    tools_block = (
        "{% if tools %}"
        + _jinja_text("\n\nTools:")
        + "{% for t in tools %}{% set f = t.function if t.function is defined else t %}"
        + _jinja_text("\n")
        + "{{ f.name }}: {{ f.description }}{% endfor %}"
        + _jinja_text(
            '\nCall a tool as <tool_call>\n{"name": "search", "arguments": {"query": "..."}}\n</tool_call>'
        )
        + "{% endif %}"
    )
    default = (
        "{% if loop.first and m.role != 'system' %}"
        + _jinja_text(f"{_IM_START}system\n{default_system}")
        + tools_block
        + _jinja_text(f"{_IM_END}\n")
        + "{% endif %}"
        if default_system is not None
        else ""
    )
    return (
        "{% for m in messages %}"
        + default
        + "{% if m.role == 'system' %}"
        + _jinja_text(f"{_IM_START}system\n")
        + "{{ m.content }}{% if loop.first %}"
        + tools_block
        + "{% endif %}"
        + _jinja_text(f"{_IM_END}\n")
        + "{% elif m.role == 'assistant' %}"
        + _jinja_text(f"{_IM_START}assistant\n")
        + "{% generation %}{{ m.content or '' }}{% for call in (m.tool_calls or []) %}"
        + "{% set f = call.function if call.function is defined else call %}"
        + _jinja_text('<tool_call>\n{"name": "')
        + "{{ f.name }}"
        + _jinja_text('", "arguments": ')
        + "{{ f.arguments | tojson }}"
        + _jinja_text("}\n</tool_call>")
        + "{% endfor %}"
        + _jinja_text(_IM_END)
        + "{% endgeneration %}"
        + _jinja_text("\n")
        + "{% else %}"
        + _jinja_text(_IM_START)
        + "{{ m.role }}"
        + _jinja_text("\n")
        + "{{ m.content }}"
        + _jinja_text(f"{_IM_END}\n")
        + "{% endif %}{% endfor %}"
        + "{% if add_generation_prompt %}"
        + _jinja_text(f"{_IM_START}assistant\n")
        + "{% endif %}"
    )


def _chatml_default_system(template: str) -> str | None:
    """The default system message a ChatML template prints when the conversation has none (None if none)."""
    match = re.search(re.escape(_IM_START) + r"system\n(.*?)" + re.escape(_IM_END), template, re.DOTALL)
    return match.group(1) if match else None


def response_template(eos_token: str) -> dict[str, Any]:
    """transformers `response_template` reading one model turn: `<search>q</search>` calls, then content to EOS."""
    return {
        "defaults": {"role": "assistant"},
        "start_anchor": TURN_PROMPT.strip(),
        "fields": {
            "tool_calls": {
                "open": SEARCH_OPEN,
                "close_pattern": _escape(SEARCH_CLOSE) + r"\s*",
                "repeats": True,
                "content": "text",
                "transform": {
                    "type": "function",
                    "function": {"name": "search", "arguments": {"query": "{content}"}},
                },
            },
            "content": {"close_pattern": _escape(eos_token) + r"\s*", "content": "text"},
        },
    }


def _escape(text: str) -> str:
    return re.escape(text)


def install_tool_template(tokenizer: Any) -> Any:
    """Give a tokenizer a chat template that renders tool calls, and its response parser.

    Without a chat template: the toolkit's plain one. A ChatML template that drops tool calls (SmolLM2's):
    `chatml_tool_template` with its default system message, parsed by TRL's ChatML parser. Any other chat
    template is kept (TRL supplies a parser for the templates it knows). Returns the same tokenizer object.
    """
    from trl.chat_template_utils import qwen3_template, supports_tool_calling

    template = getattr(tokenizer, "chat_template", None)
    if not template:
        tokenizer.chat_template = TOOL_CHAT_TEMPLATE
    elif isinstance(template, str) and _IM_START in template and not supports_tool_calling(tokenizer):
        tokenizer.chat_template = chatml_tool_template(_chatml_default_system(template))
        tokenizer.response_template = qwen3_template
    if (
        tokenizer.chat_template == TOOL_CHAT_TEMPLATE
        and getattr(tokenizer, "response_template", None) is None
    ):
        tokenizer.response_template = response_template(tokenizer.eos_token)
    return tokenizer


def uses_tool_template(tokenizer: Any) -> bool:
    """Whether the tokenizer renders conversations with this module's template."""
    return getattr(tokenizer, "chat_template", None) == TOOL_CHAT_TEMPLATE
