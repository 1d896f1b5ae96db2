"""Two-hop demo knowledge base (multi-turn search): sites -> router models -> vendors.

Answering "Which vendor makes the router of site X?" needs the site's passage (its router model) and then
the model's passage (its vendor): one search with the question cannot reach the second hop.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from grpo_rag.demo.synth import TAGS, entity_name, pseudo_names, pseudo_word, write_kb


@dataclass
class TwoHopOptions:
    """Size and seed of the two-hop knowledge base: sites -> router models -> vendors."""

    seed: int = 0
    train_families: int = 1000  # site families for training: many, so names cannot be memorised (README)
    heldout_families: int = 25  # site families (and their router models) never seen in training
    siblings: int = 3  # near-duplicate sites per family, whose router passages BM25 ranks together


def _model_name(rng: random.Random, used: set[str]) -> str:
    """A made-up router model such as `Vaxor-740`, unique within the knowledge base."""
    while True:
        name = f"{pseudo_word(rng, 2).capitalize()}-{rng.randrange(100, 1000)}"
        if name not in used:
            used.add(name)
            return name


def generate_twohop(cfg: TwoHopOptions) -> tuple[list[dict], list[dict], list[dict]]:
    """Return (corpus, train, held-out) for "Which vendor makes the router of site X?".

    The site's router model and the model's vendor sit in different passages, and the model name is not in
    the question, so one BM25 query with the question cannot retrieve the second passage: the answer needs a
    second search for the model read from the first result. Each site also states its city and each model
    its port count (distractors). Held-out sites and their router models never occur in training.
    """
    rng = random.Random(cfg.seed)
    vendors = pseudo_names(random.Random(cfg.seed + 1), 40)
    cities = pseudo_names(random.Random(cfg.seed + 2), 40)
    corpus: list[dict] = []
    train: list[dict] = []
    heldout: list[dict] = []
    families: set[str] = set()
    models: set[str] = set()
    for fi in range(cfg.train_families + cfg.heldout_families):
        fam = pseudo_word(rng, 2).capitalize()
        while fam in families:
            fam = pseudo_word(rng, 2).capitalize()
        families.add(fam)
        split = train if fi < cfg.train_families else heldout
        for tag in rng.sample(TAGS, cfg.siblings):
            site = entity_name(fam, tag)
            model, vendor = _model_name(rng, models), rng.choice(vendors)
            site_id, model_id = f"twohop:{site}:router", f"twohop:{model}:vendor"
            corpus += [
                {
                    "id": site_id,
                    "text": f"The router of {site} is the {model} model.",
                    "domain": "datacenter",
                },
                {
                    "id": f"twohop:{site}:city",
                    "text": f"{site} is located in {rng.choice(cities)}.",
                    "domain": "datacenter",
                },
                {"id": model_id, "text": f"The {model} router is made by {vendor}.", "domain": "datacenter"},
                {
                    "id": f"twohop:{model}:ports",
                    "text": f"The {model} router has {rng.randrange(8, 65)} ports.",
                    "domain": "datacenter",
                },
            ]
            split.append(
                {
                    "id": f"twohop:{site}",
                    "question": f"Which vendor makes the router of {site}?",
                    "answers": [vendor],
                    "domain": "datacenter",
                    "gold_ids": [site_id, model_id],
                }
            )
    rng.shuffle(train)
    rng.shuffle(heldout)
    return corpus, train, heldout


def twohop_queries(question_row: dict, corpus_by_id: dict[str, str]) -> list[str]:
    """The gold search queries of a two-hop question: the site's router, then the router model's vendor."""
    site_text = corpus_by_id[question_row["gold_ids"][0]]
    site = question_row["question"].removeprefix("Which vendor makes the router of ").rstrip("?")
    model = site_text.removeprefix(f"The router of {site} is the ").removesuffix(" model.")
    return [f"router of {site}", f"{model} router made by"]


def gold_queries(question_row: dict, corpus_by_id: dict[str, str]) -> list[str]:
    """Gold search queries for the multi-turn warm start: two hops for two-hop rows, else the question."""
    if question_row["id"].startswith("twohop:") and len(question_row.get("gold_ids") or []) == 2:
        return twohop_queries(question_row, corpus_by_id)
    return [question_row["question"]]


def write_twohop_data(out_dir: str | Path, cfg: TwoHopOptions | None = None) -> dict[str, int]:
    """Write twohop_corpus.jsonl, twohop_train.jsonl, twohop_heldout.jsonl into `out_dir`."""
    return write_kb(out_dir, *generate_twohop(cfg or TwoHopOptions()), prefix="twohop_")
