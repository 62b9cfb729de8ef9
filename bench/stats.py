"""/stats benchmark: ``.venv/bin/python bench/stats.py [--sizes 4000,8000,100000]``.

Fills a real question log (SQLite, the state database) with N questions asked over the last
30 days, then times what ``/stats`` and ``storybot stats`` do: ``StoryBot.stats(30)`` (purge,
read, figures, gap grouping with the real spaCy terms) and ``newly_answered``. Two logs per
size:

- *distinct*: every question a different wording (words drawn with their English frequencies,
  so common words repeat as in real questions), 60% unanswered: the worst case for grouping;
- *repeats*: 2,000 wordings (each with near-duplicate variants) asked over and over.

For comparison, the grouping storybot had before (every gap compared with every group) is
timed on the distinct gaps of the smaller sizes only (it is quadratic).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from speed import english_words  # noqa: E402

OPENERS = ["who", "what", "when", "why", "how", "where", "did", "is", "does", "which"]
NAMED = ["cuties", "netflix", "doucouré", "poster", "sundance", "senegal", "amy", "petition"]


def questions(n: int, distinct: bool, rng: random.Random) -> list[str]:
    words, weights = english_words()
    words, weights = words[:5000], weights[:5000]

    def wording() -> str:
        body = rng.choices(words, weights=weights, k=rng.randint(3, 7))
        return f"{rng.choice(OPENERS)} {' '.join(body)} {rng.choice(NAMED)}?"

    if distinct:
        return [wording() for _ in range(n)]
    bases = [wording() for _ in range(2000)]
    variants = [b.replace("?", f" {rng.choice(words[:300])}?") for b in bases]
    pool = bases + variants
    return [rng.choice(pool) for _ in range(n)]


def fill(db: Path, texts: list[str], rng: random.Random) -> None:
    now = datetime.now(UTC)
    rows = []
    for i, text in enumerate(texts):
        when = now - timedelta(seconds=rng.uniform(0, 29 * 86400))
        answered = int(rng.random() >= 0.6)
        rows.append(
            (
                when.isoformat(timespec="seconds"),
                "bench",
                text,
                answered,
                1.0 if answered else None,
                json.dumps(["seed-story"] if answered else []),
                0,
                int(rng.random() < 0.05),
            )
        )
        if i % 50_000 == 49_999 or i == len(texts) - 1:
            with sqlite3.connect(db) as conn:
                conn.executemany(
                    "INSERT INTO questions (asked_at, server, question, answered, top_score, "
                    "sources, helpful, not_helpful) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    rows,
                )
            rows = []


def quadratic_grouping(rows: list, terms_of: Callable[[str], Iterable[str]]) -> int:
    """The grouping before (every question against every group's terms); returns #groups."""
    clusters: list[tuple[set[str], list]] = []
    for row in rows:
        terms = set(terms_of(row["question"])) or {row["question"].casefold().strip()}
        for cluster_terms, members in clusters:
            if len(terms & cluster_terms) / len(terms | cluster_terms) >= 0.5:
                members.append(row)
                cluster_terms |= terms
                break
        else:
            clusters.append((set(terms), [row]))
    return len(clusters)


def run(size: int, distinct: bool, analyzer, old_up_to: int) -> dict:
    import tomllib

    from bot.config import config_from_dict
    from bot.engine import StoryBot
    from bot.insights.questionlog import group_gaps

    rng = random.Random(size)
    with tempfile.TemporaryDirectory() as tmp:
        data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
        data["corpus"].update(dir=str(REPO / "corpus"), state_dir=f"{tmp}/state")
        bot = StoryBot(config_from_dict(data, base=Path(tmp), path=None), analyzer=analyzer)
        with bot.question_log.transaction():  # creates the tables
            pass
        fill(bot.question_log.path, questions(size, distinct, rng), rng)
        analyzer._terms_of_text.clear()  # no word remembered from an earlier run
        started = time.perf_counter()
        stats = bot.stats(30)
        grouped = time.perf_counter() - started
        fixed = bot.newly_answered(stats)
        total = time.perf_counter() - started
        gap_rows = [r for r in bot.question_log.rows() if not r["answered"] or r["not_helpful"]]
        wordings = len({r["question"] for r in gap_rows})
        started = time.perf_counter()
        group_gaps(gap_rows, analyzer.terms)
        grouping = time.perf_counter() - started
        old = None
        if distinct and wordings <= old_up_to:
            started = time.perf_counter()
            quadratic_grouping(gap_rows, analyzer.terms)
            old = time.perf_counter() - started
        return {
            "asked": stats.asked,
            "gap_wordings": wordings,
            "stats_s": grouped,
            "with_newly_answered_s": total,
            "grouping_s": grouping,
            "old_grouping_s": old,
            "top_gap": stats.gaps[0].count if stats.gaps else 0,
            "fixed": len(fixed),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="6700,13400,100000", help="questions logged")
    parser.add_argument(
        "--old-up-to", type=int, default=9000, help="time the old grouping up to this many"
    )
    args = parser.parse_args()
    from bot.search.text import Analyzer

    analyzer = Analyzer()
    print(f"/stats benchmark — {os.cpu_count()} cores, load {os.getloadavg()[0]:.2f}")
    head = (
        f"{'log':>9} {'questions':>9} {'gap wordings':>12} {'stats()':>8} "
        f"{'+newly ans.':>11} {'grouping':>8} {'old grouping':>12}"
    )
    print(head)
    print("-" * len(head))
    for size in (int(s) for s in args.sizes.split(",")):
        for distinct in (True, False):
            r = run(size, distinct, analyzer, args.old_up_to)
            old = f"{r['old_grouping_s']:.2f} s" if r["old_grouping_s"] is not None else "—"
            kind = "distinct" if distinct else "repeats"
            print(
                f"{kind:>9} {r['asked']:>9,} {r['gap_wordings']:>12,} {r['stats_s']:>6.2f} s "
                f"{r['with_newly_answered_s']:>9.2f} s {r['grouping_s']:>6.2f} s {old:>12}"
            )


if __name__ == "__main__":
    main()
