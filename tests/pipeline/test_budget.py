"""`prompt.max_tokens`: passages are cut (longest first, at token boundaries) until every prompt fits."""

from __future__ import annotations

import copy
from typing import Any

from grpo_rag.pipeline.budget import fit_prompts, prompt_tokens
from grpo_rag.pipeline.prepare import prepare_split, prompt_options
from grpo_rag.sections import from_dict
from grpo_rag.training.modeling import load_tokenizer


def test_every_prompt_fits_and_cuts_are_counted(tiny_run: dict[str, Any]) -> None:
    cfg = from_dict(copy.deepcopy(tiny_run))
    tok = load_tokenizer(cfg.model.name_or_path)
    options = prompt_options(cfg, chat=False)
    prepared = prepare_split(cfg, cfg.data.eval, options, None)
    lengths = [prompt_tokens(p, tok) for p in prepared["prompt"]]
    budget = sorted(lengths)[len(lengths) // 2]  # the median: about half the prompts must be cut
    fitted, cut = fit_prompts(prepared, tok, options, budget)
    new_lengths = [prompt_tokens(p, tok) for p in fitted["prompt"]]
    assert all(n <= budget for n in new_lengths)
    assert cut == sum(fitted["prompt_cut"]) == sum(n > budget for n in lengths) > 0
    for before, after, was_cut in zip(prepared, fitted, fitted["prompt_cut"], strict=True):
        if was_cut:  # the passages the rewards see are the cut ones, each a prefix of the original
            assert after["passages"] != before["passages"]
            assert all(
                b.startswith(a.strip()[:10])
                for a, b in zip(after["passages"], before["passages"], strict=True)
            )
        else:
            assert after["prompt"] == before["prompt"] and after["passages"] == before["passages"]
    same, none_cut = fit_prompts(prepared, tok, options, 10_000)
    assert none_cut == 0 and same["prompt"] == prepared["prompt"]
    assert fit_prompts(prepared, tok, options, None) == (prepared, 0)
