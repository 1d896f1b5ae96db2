"""Sort the wrong answers of an evaluation by where they came from: a wrong yes/no label, a wrong span of a
retrieved gold passage, a copy from another retrieved passage, a memorised training answer, or a string
found in none of them.

Usage (from the repo root):
  python -m grpo_rag.studies.error_analysis runs/quickstart/eval/predictions.jsonl \\
      --corpus data/demo/corpus.jsonl --train data/demo/train.jsonl --eval data/demo/heldout.jsonl
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from grpo_rag.rewards.scoring import LABEL_ANSWERS, normalize_answer, parse_completion

REPO = Path.cwd()  # run from the repository root: data/, configs/ and bench/ are found there


def classify(pred: dict, passages: dict[str, str], train_answers: set[str], gold: set[str]) -> str:
    """Where a wrong answer came from (checked in this order)."""
    answer = parse_completion(pred["completion"]).answer if isinstance(pred["completion"], str) else None
    if not answer:
        return "no answer"
    norm = normalize_answer(answer)
    if norm in LABEL_ANSWERS:
        return "a wrong label (yes / no / maybe)"
    shown_gold = [passages.get(pid, "") for pid in pred["passage_ids"] if pid in gold]
    if any(norm and norm in normalize_answer(text) for text in shown_gold):
        return "a wrong span of a retrieved gold passage"
    others = [passages.get(pid, "") for pid in pred["passage_ids"] if pid not in gold]
    if any(norm and norm in normalize_answer(text) for text in others):
        return "copied from another retrieved passage"
    if norm in train_answers:
        return "a training answer (recalled, not read)"
    return "a string in no passage (bad copy)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("predictions", type=Path)
    parser.add_argument("--corpus", type=Path, default=REPO / "data/demo/corpus.jsonl")
    parser.add_argument("--train", type=Path, default=REPO / "data/demo/train.jsonl")
    parser.add_argument("--eval", type=Path, default=REPO / "data/demo/heldout.jsonl", help="for gold ids")
    args = parser.parse_args(argv)
    passages = {r["id"]: r["text"] for r in map(json.loads, args.corpus.open(encoding="utf-8"))}
    train_answers = {
        normalize_answer(a) for r in map(json.loads, args.train.open(encoding="utf-8")) for a in r["answers"]
    }
    gold = {r["id"]: set(r["gold_ids"]) for r in map(json.loads, args.eval.open(encoding="utf-8"))}
    preds = [json.loads(line) for line in args.predictions.open(encoding="utf-8")]
    key = "lenient_exact_match" if all("lenient_exact_match" in p for p in preds) else "exact_match"
    wrong = [p for p in preds if not p[key]]  # lenient where recorded: an untagged right answer is right
    counts = Counter(classify(p, passages, train_answers, gold[p["id"]]) for p in wrong)
    print(
        json.dumps(
            {"questions": len(preds), "wrong": len(wrong), "by_source": dict(counts.most_common())},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
