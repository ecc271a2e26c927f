"""The free-form query set (``eval/queries.jsonl``): queries an animator types, each with its accepted contents.

Written by hand, not from the caption grammar (``preprocess/captions.json``): synonyms (stroll, amble,
trudge, strafe, jab, boogie), animator words (walk cycle, run loop), rare actions (bow, call, guide,
respond, punch, kick, slash, dance), side words (left/right: sidestep, strafe, hang a right) and style
words that must not outrank the action (an old man shuffles forward). Each line is one query::

    {"id": "q007", "split": "test", "text": "an old man shuffles forward slowly",
     "contents": ["walk"], "styles": ["old", "elderly"], "focus": "style"}

``contents``: the Bandai Namco content labels a right answer may have (several where the words allow
several, e.g. "sprint" accepts dash and run); ``styles``: the style labels that also fit (optional: a
hit's style is reported, never required); ``focus``: what the query tests (synonym, style, side, rare,
animator, plain). ``split``: ``validation`` (for choosing settings such as the fusion weight) or ``test``
(never tuned on). ``batch``: ``first`` (q001-q163, 33 validation and 130 test; their misses were read
while the server's ranking was built) or ``blind`` (f001-f120: written by a separate session that saw
neither the repository, the caption grammar nor the first batch, before the grammar's synonyms were
written; every third to validation, 40 and 80). :func:`score` reports each batch apart.

:func:`score` takes, per query, the content labels of its ranked hits over the whole library and
gives top-k content accuracy (the right action among the first k), overall and per focus.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from preprocess.captions import contents

QUERIES = Path(__file__).with_name("queries.jsonl")
SPLITS = ("validation", "test")
FOCUS = ("synonym", "style", "side", "rare", "animator", "plain")
BATCHES = ("first", "blind")
CONTENTS = frozenset(contents())  # the 25 Bandai Namco content labels of both sets


@dataclass(frozen=True)
class Query:
    id: str
    split: str
    text: str
    contents: tuple[str, ...]
    styles: tuple[str, ...]
    focus: str
    batch: str = "first"


def load_queries(path: str | Path = QUERIES, split: str | None = None) -> list[Query]:
    """The queries of ``path`` (default the committed set), of one split or all; a malformed line is a
    ``ValueError`` naming it."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: {', '.join(SPLITS)}")
    queries, seen = [], set()
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            query = Query(row["id"], row["split"], row["text"].strip(), tuple(row["contents"]),
                          tuple(row.get("styles", ())), row.get("focus", "plain"),
                          row.get("batch", "first"))  # fmt: skip
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError) as error:
            raise ValueError(f"{path}:{n}: not a query line: {error}") from None
        unknown = set(query.contents) - CONTENTS
        if (not query.text or not query.contents or unknown or query.split not in SPLITS or query.focus not in FOCUS
                or query.batch not in BATCHES or query.id in seen):  # fmt: skip
            raise ValueError(f"{path}:{n}: bad query {row} (unknown contents {sorted(unknown)}, or a bad split, "
                             f"focus, batch or repeated id)")  # fmt: skip
        seen.add(query.id)
        if split is None or query.split == split:
            queries.append(query)
    return queries


def hit_at(query: Query, ranked_contents: Sequence[str], k: int) -> bool:
    """Whether one of the first ``k`` hits has an accepted content."""
    return any(c in query.contents for c in ranked_contents[:k])


def score(queries: Sequence[Query], ranked: Sequence[Sequence[str]], ks: Sequence[int] = (1, 5)) -> dict:
    """Top-k content accuracy (%) of ranked hit contents, one list per query in order: overall, per focus,
    per batch, and the ids of the queries missed at the largest k."""
    if len(queries) != len(ranked):
        raise ValueError(f"{len(queries)} queries but {len(ranked)} rankings")
    if not queries:
        raise ValueError("no queries to score")

    def accuracy(pairs) -> dict[str, float]:
        return {f"top{k}": round(100 * sum(hit_at(q, r, k) for q, r in pairs) / len(pairs), 1) for k in ks}

    pairs = list(zip(queries, ranked))
    focus = {f: accuracy([p for p in pairs if p[0].focus == f]) for f in FOCUS if any(q.focus == f for q in queries)}
    batch = {b: accuracy([p for p in pairs if p[0].batch == b]) | {"queries": sum(q.batch == b for q in queries)}
             for b in BATCHES if any(q.batch == b for q in queries)}  # fmt: skip
    missed = [q.id for q, r in pairs if not hit_at(q, r, max(ks))]
    return {"queries": len(queries), **accuracy(pairs), "by_focus": focus, "by_batch": batch, "missed": missed}
