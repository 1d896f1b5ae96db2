"""Synthetic multi-domain knowledge base for the offline demo: facts about made-up entities.

No model can know these facts without retrieval, each entity has near-duplicate siblings (same family
name, same attributes, other values) that BM25 ranks high, and the held-out questions are about entity
families never seen in training. Everything is drawn from one seeded RNG, so a seed fixes the data.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from grpo_rag.data import write_jsonl

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
_TAGS = [
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


def _names(rng: random.Random, n: int) -> tuple[str, ...]:
    out: set[str] = set()
    while len(out) < n:
        out.add(_word(rng, 2).capitalize())
    return tuple(sorted(out))


def _word(rng: random.Random, syllables: int) -> str:
    return "".join(rng.choice(_ONSETS) + rng.choice(_VOWELS) + rng.choice(_CODAS) for _ in range(syllables))


def default_domains(seed: int = 7) -> list[DomainSpec]:
    """The four demo domains: telecom datacenter, telecom mobility, medical, legal."""
    rng = random.Random(seed)
    vendors, cities, labs = _names(rng, 40), _names(rng, 40), _names(rng, 40)
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
class SynthConfig:
    """Size and seed of the generated knowledge base."""

    seed: int = 0
    train_families: int = 40  # per domain; each family has `siblings` entities
    heldout_families: int = 10  # per domain, never seen in training
    siblings: int = 3  # near-duplicate entities per family (distractors for each other)
    domains: list[DomainSpec] = field(default_factory=default_domains)


def _entity_name(family: str, tag: str) -> str:
    return f"{family}-{tag}"


def generate(cfg: SynthConfig) -> tuple[list[dict], list[dict], list[dict]]:
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
            fam = _word(rng, 2).capitalize()
            if fam not in used_families:
                used_families.add(fam)
                families.append(fam)
        for fi, fam in enumerate(families):
            split = train if fi < cfg.train_families else heldout
            for tag in rng.sample(_TAGS, cfg.siblings):
                name = _entity_name(fam, tag)
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


def write_demo_data(out_dir: str | Path, cfg: SynthConfig | None = None) -> dict[str, int]:
    """Generate the demo knowledge base into `out_dir` (corpus.jsonl, train.jsonl, heldout.jsonl)."""
    corpus, train, heldout = generate(cfg or SynthConfig())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "corpus.jsonl", corpus)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "heldout.jsonl", heldout)
    return {"passages": len(corpus), "train": len(train), "heldout": len(heldout)}


# --- two-hop questions (multi-turn search) ---------------------------------------------------------------
@dataclass
class TwoHopConfig:
    """Size and seed of the two-hop knowledge base: sites -> router models -> vendors."""

    seed: int = 0
    train_families: int = 100  # site families used for training questions
    heldout_families: int = 25  # site families (and their router models) never seen in training
    siblings: int = 3  # near-duplicate sites per family, whose router passages BM25 ranks together


def _model_name(rng: random.Random, used: set[str]) -> str:
    """A made-up router model such as `Vaxor-740`, unique within the knowledge base."""
    while True:
        name = f"{_word(rng, 2).capitalize()}-{rng.randrange(100, 1000)}"
        if name not in used:
            used.add(name)
            return name


def generate_twohop(cfg: TwoHopConfig) -> tuple[list[dict], list[dict], list[dict]]:
    """Return (corpus, train, held-out) for "Which vendor makes the router of site X?".

    The site's router model and the model's vendor sit in different passages, and the model name is not in
    the question, so one BM25 query with the question cannot retrieve the second passage: the answer needs a
    second search for the model read from the first result. Each site also states its city and each model
    its port count (distractors). Held-out sites and their router models never occur in training.
    """
    rng = random.Random(cfg.seed)
    vendors = _names(random.Random(cfg.seed + 1), 40)
    cities = _names(random.Random(cfg.seed + 2), 40)
    corpus: list[dict] = []
    train: list[dict] = []
    heldout: list[dict] = []
    families: set[str] = set()
    models: set[str] = set()
    for fi in range(cfg.train_families + cfg.heldout_families):
        fam = _word(rng, 2).capitalize()
        while fam in families:
            fam = _word(rng, 2).capitalize()
        families.add(fam)
        split = train if fi < cfg.train_families else heldout
        for tag in rng.sample(_TAGS, cfg.siblings):
            site = _entity_name(fam, tag)
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


def write_twohop_data(out_dir: str | Path, cfg: TwoHopConfig | None = None) -> dict[str, int]:
    """Write twohop_corpus.jsonl, twohop_train.jsonl, twohop_heldout.jsonl into `out_dir`."""
    corpus, train, heldout = generate_twohop(cfg or TwoHopConfig())
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "twohop_corpus.jsonl", corpus)
    write_jsonl(out / "twohop_train.jsonl", train)
    write_jsonl(out / "twohop_heldout.jsonl", heldout)
    return {"twohop_passages": len(corpus), "twohop_train": len(train), "twohop_heldout": len(heldout)}


# --- a changed knowledge base, for freshness checks -------------------------------------------------------
@dataclass
class ChangedKB:
    """A changed version of a demo knowledge base: some facts get new values, new entities are added.

    `updated_before` and `updated_after` ask the same questions about the updated facts (old and new
    answers); `new_entities` asks about the added entities. All QA rows are in the toolkit's format.
    """

    corpus: list[dict]
    updated_before: list[dict]
    updated_after: list[dict]
    new_entities: list[dict]


def _parse_fact_id(pid: str, specs: dict[str, DomainSpec]) -> tuple[DomainSpec, str, Attribute] | None:
    """(domain spec, entity name, attribute) of a demo passage id `domain:Family-Tag:attribute`, else None."""
    parts = pid.split(":")
    if len(parts) != 3 or parts[0] not in specs:
        return None
    spec = specs[parts[0]]
    attr = next((a for a in spec.attributes if a.key == parts[2]), None)
    return (spec, parts[1], attr) if attr is not None else None


def change_kb(
    corpus: list[dict],
    qa: list[dict],
    *,
    updated_per_domain: int,
    new_families_per_domain: int,
    seed: int = 1,
    synth: SynthConfig | None = None,
) -> ChangedKB:
    """Deterministically change a demo KB: update `updated_per_domain` facts asked about in `qa` (new values,
    same questions) and add `new_families_per_domain` new entity families per domain.

    Raises ValueError when the corpus is not demo data (ids `domain:Family-Tag:attribute`).
    """
    synth = synth or SynthConfig()
    specs = {s.domain: s for s in synth.domains}
    rng = random.Random(seed)
    texts = {row["id"]: row for row in corpus}
    facts: dict[str, list[dict]] = {}
    for row in qa:
        gold = row.get("gold_ids") or []
        if len(gold) == 1 and gold[0] in texts and _parse_fact_id(gold[0], specs) is not None:
            facts.setdefault(row["domain"], []).append(row)
    if not facts:
        raise ValueError("no question is about a demo fact (passage ids `domain:Family-Tag:attribute`)")
    changed = {row["id"]: dict(row) for row in corpus}
    before: list[dict] = []
    after: list[dict] = []
    for domain in sorted(facts):
        for row in rng.sample(facts[domain], min(updated_per_domain, len(facts[domain]))):
            pid = row["gold_ids"][0]
            spec, name, attr = _parse_fact_id(pid, specs)  # type: ignore[misc]
            new_value = rng.choice([v for v in attr.values if v not in row["answers"]])
            changed[pid]["text"] = attr.statement.format(name=name, value=new_value)
            before.append(dict(row))
            after.append({**row, "answers": [new_value]})
    families = {pid.split(":")[1].split("-")[0] for pid in texts if _parse_fact_id(pid, specs)}
    new_rows: list[dict] = []
    new_qa: list[dict] = []
    for domain in sorted(facts):
        spec = specs[domain]
        added = 0
        while added < new_families_per_domain:
            fam = _word(rng, 2).capitalize()
            if fam in families:
                continue
            families.add(fam)
            added += 1
            for tag in rng.sample(_TAGS, synth.siblings):
                name = _entity_name(fam, tag)
                for a in spec.attributes:
                    value = rng.choice(a.values)
                    pid = f"{domain}:{name}:{a.key}"
                    new_rows.append(
                        {"id": pid, "text": a.statement.format(name=name, value=value), "domain": domain}
                    )
                    new_qa.append(
                        {
                            "id": pid,
                            "question": a.question.format(name=name),
                            "answers": [value],
                            "domain": domain,
                            "gold_ids": [pid],
                        }
                    )
    return ChangedKB(list(changed.values()) + new_rows, before, after, new_qa)


def write_changed_kb(out_dir: str | Path, kb: ChangedKB) -> dict[str, Path]:
    """Write a ChangedKB as corpus.jsonl, updated_before.jsonl, updated_after.jsonl, new_entities.jsonl."""
    out = Path(out_dir)
    paths = {
        name: out / f"{name}.jsonl" for name in ("corpus", "updated_before", "updated_after", "new_entities")
    }
    for name, path in paths.items():
        write_jsonl(path, getattr(kb, name))
    return paths
