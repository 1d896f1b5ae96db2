"""Two-hop questions composed from real single-hop ones: the answer of one question is named in another.

A pair (Q1, Q2) qualifies when Q1's answer A1 is a proper name (capitalised, no digits, 1-4 words) that
occurs word for word in Q2, and the two questions have different gold passages. The composed question
hides A1 behind a variable, so answering needs both hops (the MuSiQue style of composition):

    X is the answer to "What is another name for Constantinople?". What two bodies of water does X sit between?

Its answers are Q2's, its gold ids Q1's then Q2's, and `hops` keeps both source questions (the gold search
queries of the multi-turn warm start). Pairs are split by bridge name, so held-out questions never share a
bridge with training ones.
Usage (from the repo root): python -m grpo_rag.data.compose  (all 7,938 SQuADShifts Wikipedia questions,
whose paragraphs are data/real's wikipedia passages; writes data/real/twohop_{train,heldout}.jsonl)
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grpo_rag.data.convert import convert_squadshifts
from grpo_rag.data.io import iter_objects, load_corpus, load_qa, write_jsonl
from grpo_rag.errors import GrpoRagError

VARIABLE = "X"


@dataclass(frozen=True)
class ComposeOptions:
    """Which pairs qualify and how they are split."""

    domains: tuple[str, ...] = ("wikipedia",)  # domains whose questions name entities (others pair on years)
    max_bridge_words: int = 4
    per_bridge: int = 4  # at most this many pairs share one bridge name (keeps "Istanbul" from dominating)
    heldout_share: float = 0.3  # share of bridge names whose pairs are held out


def _bridge(row: dict[str, Any], options: ComposeOptions) -> str | None:
    """Q1's first answer when it can serve as a bridge name, else None."""
    answer = (row["answers"] or [""])[0].strip().rstrip(".")
    words = answer.split()
    if not 1 <= len(words) <= options.max_bridge_words or len(answer) < 4:
        return None
    if not answer[0].isupper() or re.search(r"\d", answer) or answer.lower() in row["question"].lower():
        return None
    return answer


def compose_question(q1: str, q2: str, bridge: str) -> str:
    """The two-hop question: Q2 with the bridge replaced by X, after a line defining X by Q1."""
    hidden = re.sub(rf"(?<!\w){re.escape(bridge)}(?!\w)", VARIABLE, q2.strip())
    return f'{VARIABLE} is the answer to "{q1.strip()}". {hidden}'


def compose_pairs(rows: Sequence[dict[str, Any]], options: ComposeOptions) -> list[dict[str, Any]]:
    """Every qualifying (Q1, Q2) pair as a two-hop QA row (each Q2 used once), in a deterministic order."""
    pool = [r for r in rows if r["domain"] in options.domains and r["gold_ids"] and r["answerable"]]
    used_q2: set[str] = set()
    per_bridge: Counter[str] = Counter()
    out: list[dict[str, Any]] = []
    for q1 in pool:
        bridge = _bridge(q1, options)
        if bridge is None:
            continue
        pattern = re.compile(rf"(?<!\w){re.escape(bridge)}(?!\w)")
        for q2 in pool:
            if per_bridge[bridge] >= options.per_bridge:
                break
            if q2["id"] in used_q2 or set(q2["gold_ids"]) & set(q1["gold_ids"]):
                continue
            if not pattern.search(q2["question"]) or any(bridge.lower() in a.lower() for a in q2["answers"]):
                continue
            used_q2.add(q2["id"])
            per_bridge[bridge] += 1
            out.append(
                {
                    "id": f"twohop:{q1['id']}+{q2['id']}",
                    "question": compose_question(q1["question"], q2["question"], bridge),
                    "answers": list(q2["answers"]),
                    "domain": q2["domain"],
                    "gold_ids": list(q1["gold_ids"]) + [g for g in q2["gold_ids"] if g not in q1["gold_ids"]],
                    "bridge": bridge,
                    "hops": [
                        {
                            "question": q1["question"],
                            "answers": list(q1["answers"]),
                            "gold_ids": list(q1["gold_ids"]),
                        },
                        {
                            "question": q2["question"],
                            "answers": list(q2["answers"]),
                            "gold_ids": list(q2["gold_ids"]),
                        },
                    ],
                }
            )
    return out


def is_heldout(bridge: str, share: float) -> bool:
    """Stable split by bridge name (sha256), independent of order and of the other pairs."""
    digest = hashlib.sha256(bridge.lower().encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < share


def split_pairs(pairs: Iterable[dict[str, Any]], share: float) -> tuple[list[dict], list[dict]]:
    """(train, heldout): all pairs of one bridge name on the same side."""
    train: list[dict] = []
    heldout: list[dict] = []
    for row in pairs:
        (heldout if is_heldout(row["bridge"], share) else train).append(row)
    return train, heldout


def load_hops(path: str | Path) -> dict[str, list[dict[str, Any]]]:
    """Question id -> its `hops` (source questions) from a two-hop QA file; `load_qa` drops extra keys."""
    return {obj["id"]: obj["hops"] for _, obj in iter_objects(Path(path)) if obj.get("hops")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=Path("../shared/data/squadshifts/new_wiki_v1.0.json"))
    parser.add_argument(
        "--corpus", type=Path, default=Path("data/real/corpus.jsonl"), help="gold ids checked here"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("data/real"), help="writes twohop_{train,heldout}.jsonl"
    )
    parser.add_argument("--heldout-share", type=float, default=ComposeOptions.heldout_share)
    args = parser.parse_args(argv)
    options = ComposeOptions(heldout_share=args.heldout_share)
    try:
        _, qa = convert_squadshifts(args.squad, "wikipedia")
        rows = [{**r, "answerable": True} for r in qa]
        train, heldout = split_pairs(compose_pairs(rows, options), options.heldout_share)
        write_jsonl(args.out / "twohop_train.jsonl", train)
        write_jsonl(args.out / "twohop_heldout.jsonl", heldout)
        ids = set(load_corpus(args.corpus)["id"])  # read back: what we ship must load against the corpus
        for name in ("twohop_train.jsonl", "twohop_heldout.jsonl"):
            load_qa(args.out / name, corpus_ids=ids)
    except GrpoRagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    bridges = {
        name: len({r["bridge"] for r in part}) for name, part in (("train", train), ("heldout", heldout))
    }
    print(
        f"two-hop questions: train {len(train)} ({bridges['train']} bridges), "
        f"heldout {len(heldout)} ({bridges['heldout']} bridges) -> {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
