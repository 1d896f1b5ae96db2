"""A changed demo knowledge base for freshness checks: some facts get new values, new entities appear.

`grpo-rag compare` re-indexes the changed corpus (no retraining) and scores every arm on the changed facts.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from grpo_rag.data.io import write_jsonl
from grpo_rag.demo.synth import TAGS, Attribute, DomainSpec, SynthOptions, entity_name, pseudo_word


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
    synth: SynthOptions | None = None,
) -> ChangedKB:
    """Deterministically change a demo KB: update `updated_per_domain` facts asked about in `qa` (new values,
    same questions) and add `new_families_per_domain` new entity families per domain.

    Raises ValueError when the corpus is not demo data (ids `domain:Family-Tag:attribute`).
    """
    synth = synth or SynthOptions()
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
            fam = pseudo_word(rng, 2).capitalize()
            if fam in families:
                continue
            families.add(fam)
            added += 1
            for tag in rng.sample(TAGS, synth.siblings):
                name = entity_name(fam, tag)
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
