"""The toolkit's config: the core sections plus the demo's `bootstrap` and the studies' `compare`.

The core loader (`grpo_rag.config`) knows no demo or study section; the CLI and the public API load
configs through this module, which registers both. Still torch-free: the section classes are plain data.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from grpo_rag.config import RunConfig, loader
from grpo_rag.demo import settings as demo_settings
from grpo_rag.studies import settings as study_settings

#: Section name -> dataclass, for every section beyond the core ones.
SECTIONS: dict[str, type] = {
    demo_settings.SECTION: demo_settings.BootstrapConfig,
    study_settings.SECTION: study_settings.CompareConfig,
}


def load_config(path: str | Path, overrides: list[str] | None = None) -> RunConfig:
    """Read and validate a YAML run config, with the demo and study sections accepted."""
    return loader.load_config(path, overrides, SECTIONS)


def from_dict(raw: dict[str, Any], source: str = "<dict>") -> RunConfig:
    """Validate a raw mapping into a RunConfig, with the demo and study sections accepted."""
    return loader.from_dict(raw, source, SECTIONS)
