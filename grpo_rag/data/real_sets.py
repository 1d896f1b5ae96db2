"""Convert the shared real QA sets into data/real/{corpus,train,heldout}.jsonl and print per-domain counts.

Usage (from the repo root): python -m grpo_rag.data.real_sets --src ../shared/data --out data/real
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from grpo_rag.data.convert import convert_all, split_by_passage
from grpo_rag.data.io import load_corpus, load_qa, write_jsonl
from grpo_rag.errors import GrpoRagError

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=Path("../shared/data"), help="shared data folder")
    parser.add_argument("--out", type=Path, default=Path("data/real"), help="output folder")
    parser.add_argument("--max-train", type=int, default=1000, help="training questions per domain")
    parser.add_argument("--max-heldout", type=int, default=300, help="held-out questions per domain")
    parser.add_argument("--heldout-fraction", type=float, default=0.25, help="share of passages held out")
    args = parser.parse_args(argv)
    src = args.src if args.src.is_absolute() else REPO / args.src
    out = args.out if args.out.is_absolute() else REPO / args.out
    try:
        corpus, qa = convert_all(src)
        train, heldout = split_by_passage(
            qa, heldout_fraction=args.heldout_fraction, max_train=args.max_train, max_heldout=args.max_heldout
        )
        write_jsonl(out / "corpus.jsonl", corpus)
        write_jsonl(out / "train.jsonl", train)
        write_jsonl(out / "heldout.jsonl", heldout)
        # Read back through the validating loaders: what we ship must load.
        ids = set(load_corpus(out / "corpus.jsonl")["id"])
        load_qa(out / "train.jsonl", corpus_ids=ids)
        load_qa(out / "heldout.jsonl", corpus_ids=ids)
    except GrpoRagError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    counts = {
        name: Counter(row["domain"] for row in rows)
        for name, rows in (("passages", corpus), ("questions", qa), ("train", train), ("heldout", heldout))
    }
    print(f"{'domain':<10} {'passages':>9} {'questions':>10} {'train':>6} {'heldout':>8}")
    for domain in counts["passages"]:
        print(
            f"{domain:<10}"
            + "".join(f" {counts[k][domain]:>{w}}" for k, w in zip(counts, (9, 10, 6, 8), strict=True))
        )
    print(
        f"{'total':<10}"
        + "".join(f" {sum(c.values()):>{w}}" for c, w in zip(counts.values(), (9, 10, 6, 8), strict=True))
    )
    size = sum((out / f).stat().st_size for f in ("corpus.jsonl", "train.jsonl", "heldout.jsonl"))
    print(f"wrote {out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
