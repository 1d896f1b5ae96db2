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
"""

from __future__ import annotations

from typing import Any

SEARCH_OPEN = "<search>"
SEARCH_CLOSE = "</search>"
RESULTS_HEADER = "Results:"
TURN_PROMPT = "\nAnswer:"  # what every model turn starts with (the plain prompt's final line)

_TURN = "{{ '\\n" + TURN_PROMPT.strip() + "' }}"  # TURN_PROMPT as a Jinja expression

#: Jinja chat template: system, user, assistant (content and/or tool calls, ended by EOS), tool results.
#: Newlines are Jinja expressions because transformers renders templates with `trim_blocks`.
TOOL_CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for m in messages %}"
    "{% if m.role == 'system' %}{{ m.content }}\n\n"
    "{% elif m.role == 'user' %}{{ m.content }}"
    "{% elif m.role == 'assistant' %}" + _TURN + "{{ m.content or '' }}"
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
    "{{ eos_token }}"
    "{% elif m.role == 'tool' %}{{ '\\n' }}" + RESULTS_HEADER + "\n{{ m.content }}"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}" + _TURN + "{% endif %}"
)


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
    import re

    return re.escape(text)


def install_tool_template(tokenizer: Any) -> Any:
    """Give a tokenizer without a chat template the toolkit's tool-call template and response parser.

    A tokenizer that already has a chat template keeps it (TRL then supplies a parser for the templates it
    knows); the same tokenizer object is returned.
    """
    if not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = TOOL_CHAT_TEMPLATE
    if (
        tokenizer.chat_template == TOOL_CHAT_TEMPLATE
        and getattr(tokenizer, "response_template", None) is None
    ):
        tokenizer.response_template = response_template(tokenizer.eos_token)
    return tokenizer


def uses_tool_template(tokenizer: Any) -> bool:
    """Whether the tokenizer renders conversations with this module's template."""
    return getattr(tokenizer, "chat_template", None) == TOOL_CHAT_TEMPLATE
