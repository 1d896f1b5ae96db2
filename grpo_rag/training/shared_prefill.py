"""Encode each distinct prompt once when GRPO samples several completions of it.

TRL repeats every prompt `num_generations` times in the generation batch, and `generate` encodes every
copy. With ~250-token prompts and 16 new tokens that prompt pass is about half of a CPU step's generation
time. `prefill_once_per_prompt` runs the prompt pass on one copy of each run of identical rows, repeats its
KV cache, and hands the rest to `generate` unchanged: the same positions, mask and sampling as before.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import torch


def prompt_runs(input_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | None:
    """(first row of each run of identical consecutive rows, run index of every row); None if no row repeats."""
    if input_ids.dim() != 2 or input_ids.size(0) < 2 or input_ids.size(1) < 2:
        return None
    starts = torch.ones(input_ids.size(0), dtype=torch.bool, device=input_ids.device)
    starts[1:] = (input_ids[1:] != input_ids[:-1]).any(dim=1)
    if bool(starts.all()):
        return None
    return starts.nonzero().squeeze(1), starts.long().cumsum(0) - 1


def _sharing_generate(model: Any, generate: Callable[..., Any]) -> Callable[..., Any]:
    """`generate` that prefills a repeated prompt once; any call it does not recognise passes through as is."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        input_ids, mask = kwargs.get("input_ids"), kwargs.get("attention_mask")
        config = kwargs.get("generation_config")
        if (
            args
            or input_ids is None
            or mask is None
            or set(kwargs) - {"input_ids", "attention_mask", "generation_config"}
            or getattr(config, "cache_implementation", None) is not None
            or (getattr(config, "num_beams", None) or 1) != 1
            or (getattr(config, "num_return_sequences", None) or 1) != 1
            or (runs := prompt_runs(input_ids)) is None
        ):
            return generate(*args, **kwargs)
        first, run_of_row = runs
        ids, sub_mask = input_ids[first, :-1], mask[first, :-1]
        # generate's own positions for left-padded rows: count real tokens, padding at 0
        positions = (sub_mask.long().cumsum(-1) - 1).masked_fill(sub_mask == 0, 0)
        with torch.no_grad():
            out = model(input_ids=ids, attention_mask=sub_mask, position_ids=positions, use_cache=True)
        cache = out.cache if hasattr(out, "cache") else out.past_key_values
        cache.batch_select_indices(run_of_row)
        return generate(input_ids=input_ids, attention_mask=mask, generation_config=config, cache=cache)

    return wrapped


@contextmanager
def prefill_once_per_prompt(model: Any) -> Iterator[None]:
    """While open, `model.generate` encodes each run of identical prompt rows once (see the module docstring)."""
    if "generate" in vars(model):  # already wrapped (nested call) or replaced by someone else: leave it
        yield
        return
    model.generate = _sharing_generate(model, model.generate)
    try:
        yield
    finally:
        del model.generate
