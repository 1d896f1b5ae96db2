"""Synthetic multi-domain knowledge base for the offline demo: facts about made-up entities.

No model can know these facts without retrieval, each entity has near-duplicate siblings (same family
name, same attributes, other values) that BM25 ranks high, and the held-out questions are about entity
families never seen in training. Everything is drawn from one seeded RNG, so a seed fixes the data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from grpo_rag.data.io import write_jsonl

_ONSETS = [
    "b",
    "br",
    "d",
    "dr",
    "f",
    "g",
    "gr",
    "k",
    "kr",
    "l",
    "m",
    "n",
    "p",
    "qu",
    "r",
    "s",
    "st",
    "t",
    "tr",
    "v",
    "z",
    "th",
    "sh",
    "h",
]
_VOWELS = ["a", "e", "i", "o", "u", "ae", "io", "y"]
_CODAS = ["", "n", "r", "l", "x", "s", "th", "nd", "rk", "m", "v"]
TAGS = [
    "Amber",
    "Cobalt",
    "Indigo",
    "Jade",
    "Onyx",
    "Ruby",
    "Slate",
    "Topaz",
    "Umber",
    "Violet",
    "Willow",
    "Zircon",
    "Birch",
    "Cedar",
    "Ember",
    "Frost",
    "Granite",
    "Harbor",
    "Iris",
    "Juniper",
    "Kestrel",
    "Lotus",
    "Maple",
    "Nimbus",
    "Orchid",
    "Pebble",
    "Quartz",
    "Raven",
    "Sable",
    "Tundra",
]


@dataclass(frozen=True)
class Attribute:
    """One fact slot of an entity kind: how it is asked, stated, and which values it takes."""

    key: str
    question: str  # "{name}" is replaced by the entity name
    statement: str  # "{name}" and "{value}" are replaced
    values: tuple[str, ...]


@dataclass(frozen=True)
class DomainSpec:
    """An entity kind of one domain, e.g. datacenter sites, with its attributes."""

    domain: str
    kind: str
    intro: str  # "{name}" is replaced
    attributes: tuple[Attribute, ...]


def _numbers(lo: int, hi: int, step: int, unit: str) -> tuple[str, ...]:
    return tuple(f"{v} {unit}" for v in range(lo, hi + 1, step))


def pseudo_names(rng: random.Random, n: int) -> tuple[str, ...]:
    out: set[str] = set()
    while len(out) < n:
        out.add(pseudo_word(rng, 2).capitalize())
    return tuple(sorted(out))


def pseudo_word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def default_domains(seed: int = 7) -> list[DomainSpec]:
    """The four demo domains: telecom datacenter, telecom mobility, medical, legal."""
    rng = random.Random(seed)
    vendors, cities, labs = pseudo_names(rng, 40), pseudo_names(rng, 40), pseudo_names(rng, 40)
    return [
        DomainSpec(
            "datacenter",
            "site",
            "{name} is a datacenter site.",
            (
                Attribute(
                    "cooling",
                    "What is the cooling capacity of {name}?",
                    "The cooling capacity of {name} is {value}.",
                    _numbers(120, 990, 10, "kW"),
                ),
                Attribute(
                    "vendor",
                    "Who supplies the routers of {name}?",
                    "The routers of {name} are supplied by {value}.",
                    vendors,
                ),
                Attribute(
                    "city", "In which city is {name} located?", "{name} is located in {value}.", cities
                ),
            ),
        ),
        DomainSpec(
            "mobility",
            "cell",
            "{name} is a mobile network cell.",
            (
                Attribute(
                    "band",
                    "Which frequency band does {name} use?",
                    "{name} uses the {value} band.",
                    _numbers(600, 3800, 20, "MHz"),
                ),
                Attribute(
                    "tilt",
                    "What is the antenna tilt of {name}?",
                    "The antenna tilt of {name} is {value}.",
                    _numbers(1, 60, 1, "degrees"),
                ),
                Attribute(
                    "vendor",
                    "Which vendor built the radio of {name}?",
                    "The radio of {name} was built by {value}.",
                    vendors,
                ),
            ),
        ),
        DomainSpec(
            "medical",
            "drug",
            "{name} is an experimental drug.",
            (
                Attribute(
                    "dose",
                    "What is the daily dose of {name}?",
                    "The daily dose of {name} is {value}.",
                    _numbers(5, 900, 5, "mg"),
                ),
                Attribute(
                    "lab", "Which lab developed {name}?", "{name} was developed by the {value} lab.", labs
                ),
                Attribute(
                    "target",
                    "Which organ does {name} target?",
                    "{name} targets the {value}.",
                    (
                        "liver",
                        "kidney",
                        "lung",
                        "heart",
                        "spleen",
                        "retina",
                        "pancreas",
                        "thyroid",
                        "skin",
                        "colon",
                        "bladder",
                        "cornea",
                        "cochlea",
                        "tendon",
                        "marrow",
                    ),
                ),
            ),
        ),
        DomainSpec(
            "legal",
            "statute",
            "{name} is a regional statute.",
            (
                Attribute(
                    "year",
                    "In which year was {name} enacted?",
                    "{name} was enacted in {value}.",
                    tuple(str(y) for y in range(1850, 2025)),
                ),
                Attribute(
                    "fine",
                    "What is the maximum fine under {name}?",
                    "The maximum fine under {name} is {value}.",
                    _numbers(100, 9900, 100, "euros"),
                ),
                Attribute(
                    "court",
                    "Which court enforces {name}?",
                    "{name} is enforced by the {value} court.",
                    cities,
                ),
            ),
        ),
    ]


@dataclass
class SynthOptions:
    """Size and seed of the generated knowledge base."""

    seed: int = 0
    train_families: int = 40  # per domain; each family has `siblings` entities
    heldout_families: int = 10  # per domain, never seen in training
    siblings: int = 3  # near-duplicate entities per family (distractors for each other)
    domains: list[DomainSpec] = field(default_factory=default_domains)


def entity_name(family: str, tag: str) -> str:
    return f"{family}-{tag}"


def generate(cfg: SynthOptions) -> tuple[list[dict], list[dict], list[dict]]:
    """Return (corpus rows, train QA rows, held-out QA rows) in the toolkit's JSONL formats."""
    rng = random.Random(cfg.seed)
    corpus: list[dict] = []
    train: list[dict] = []
    heldout: list[dict] = []
    used_families: set[str] = set()
    for spec in cfg.domains:
        n_fam = cfg.train_families + cfg.heldout_families
        families: list[str] = []
        while len(families) < n_fam:
            fam = pseudo_word(rng, 2).capitalize()
            if fam not in used_families:
                used_families.add(fam)
                families.append(fam)
        for fi, fam in enumerate(families):
            split = train if fi < cfg.train_families else heldout
            for tag in rng.sample(TAGS, cfg.siblings):
                name = entity_name(fam, tag)
                for a in spec.attributes:
                    # One short passage per fact: BM25 then ranks the siblings' statements of the same
                    # attribute, and the entity's other facts, right behind the gold passage.
                    value = rng.choice(a.values)
                    pid = f"{spec.domain}:{name}:{a.key}"
                    corpus.append(
                        {"id": pid, "text": a.statement.format(name=name, value=value), "domain": spec.domain}
                    )
                    split.append(
                        {
                            "id": pid,
                            "question": a.question.format(name=name),
                            "answers": [value],
                            "domain": spec.domain,
                            "gold_ids": [pid],
                        }
                    )
    rng.shuffle(train)
    rng.shuffle(heldout)
    return corpus, train, heldout


def write_kb(
    out_dir: str | Path, corpus: list[dict], train: list[dict], heldout: list[dict], prefix: str = ""
) -> dict[str, int]:
    """Write `{prefix}corpus.jsonl`, `{prefix}train.jsonl`, `{prefix}heldout.jsonl`; returns the counts."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / f"{prefix}corpus.jsonl", corpus)
    write_jsonl(out / f"{prefix}train.jsonl", train)
    write_jsonl(out / f"{prefix}heldout.jsonl", heldout)
    return {f"{prefix}passages": len(corpus), f"{prefix}train": len(train), f"{prefix}heldout": len(heldout)}


def write_demo_data(out_dir: str | Path, cfg: SynthOptions | None = None) -> dict[str, int]:
    """Generate the demo knowledge base into `out_dir` (corpus.jsonl, train.jsonl, heldout.jsonl)."""
    return write_kb(out_dir, *generate(cfg or SynthOptions()))
