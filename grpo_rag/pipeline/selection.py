"""Which questions a split uses: domain filter, seeded shuffle, domain shares and yes/no label balance.

Split from `prepare` so that the draw (shared by training, evaluation and the compare study's fresh
questions) can be read and tested on its own.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from datasets import Dataset

from grpo_rag.errors import DataError
from grpo_rag.rewards.scoring import is_verdict, normalize_answer


def interleave_labels(order: list[int], answers: Sequence[Sequence[str]]) -> list[int]:
    """`order` with its yes/no-style questions re-dealt so that their labels alternate (yes, no, maybe, ...).

    The span questions keep their places; the label questions' places are refilled round-robin from one
    queue per label (each in its shuffled order), so any prefix of the result holds the labels in near-equal
    numbers while the rarest lasts.
    """
    queues: dict[str, list[int]] = {}
    slots = []
    for pos, i in enumerate(order):
        if is_verdict(answers[i]):
            queues.setdefault(normalize_answer(answers[i][0]), []).append(i)
            slots.append(pos)
    dealt: list[int] = []
    lanes = [queues[k] for k in sorted(queues)]
    for depth in range(max((len(q) for q in lanes), default=0)):
        dealt += [q[depth] for q in lanes if depth < len(q)]
    out = list(order)
    for pos, i in zip(slots, dealt, strict=True):
        out[pos] = i
    return out


def select_questions(
    qa: Dataset,
    domains: Sequence[str] | None,
    limit: int | None,
    balance: bool,
    seed: int,
    path: str = "<qa>",
    balance_labels: bool = False,
    weights: Mapping[str, float] | None = None,
) -> Dataset:
    """Keep questions of `domains` (None = all), then at most `limit` of them after a seeded shuffle.

    With `balance`, the limit is shared between domains (a weighted round-robin over each domain's shuffled
    questions: equal shares, or in proportion to `weights`, 1.0 for a domain not listed), so a large domain
    cannot crowd out a small one. With `balance_labels`, the yes/no-style questions within the limit hold
    each label about equally often (`interleave_labels`).
    """
    if domains:
        wanted = set(domains)
        present = set(qa["domain"])
        missing = sorted(wanted - present)
        if missing:
            raise DataError(
                path,
                f"no questions of domain(s) {', '.join(missing)} (data.domains); "
                f"the file has: {', '.join(sorted(present))}",
            )
        qa = qa.filter(lambda d: d in wanted, input_columns="domain")
    if limit is None or limit >= len(qa):
        return qa
    answers = qa["answers"] if balance_labels else None
    if not balance:
        shuffled = qa.shuffle(seed=seed)
        if answers is None:
            return shuffled.select(range(limit))
        return shuffled.select(interleave_labels(list(range(len(qa))), shuffled["answers"])[:limit])
    rng = random.Random(seed)
    pools: dict[str, list[int]] = {}
    for i, d in enumerate(qa["domain"]):
        pools.setdefault(d, []).append(i)
    queues = []
    for d in sorted(pools):
        rng.shuffle(pools[d])
        queues.append(interleave_labels(pools[d], answers) if answers else pools[d])
    chosen = _weighted_round_robin(queues, [(weights or {}).get(d, 1.0) for d in sorted(pools)], limit)
    rng.shuffle(chosen)
    return qa.select(chosen)


def _weighted_round_robin(queues: Sequence[Sequence[int]], weights: Sequence[float], limit: int) -> list[int]:
    """Up to `limit` items taken from the queues' fronts, each next from the queue furthest below its share.

    Queue i's share after n picks is n * w_i / sum(w); ties go to the earlier queue, so equal weights give a
    plain round-robin. An exhausted queue drops out and the others share its place.
    """
    taken = [0] * len(queues)
    chosen: list[int] = []
    while len(chosen) < limit:
        open_ = [i for i, q in enumerate(queues) if taken[i] < len(q)]
        if not open_:
            break
        i = min(open_, key=lambda j: (taken[j] + 1) / weights[j])
        chosen.append(queues[i][taken[i]])
        taken[i] += 1
    return chosen
