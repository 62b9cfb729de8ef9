"""Retrieval quality of storybot's settings against naive rank-bm25, on labelled questions.

    .venv/bin/python bench/quality.py [tests/data/dev-questions.jsonl ...]

The naive baseline is what the foundation issue measured: BM25Okapi over whitespace tokens of
single sentences (split on ". "), top 3, never abstaining.
"""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from pathlib import Path

from rank_bm25 import BM25Okapi

from bot.config import load_config
from bot.engine import StoryBot
from bot.search.evaluate import evaluate, read_labelled
from bot.search.retrieval import Answer, Excerpt

ROOT = Path(__file__).resolve().parent.parent


def naive_asker(bot: StoryBot):
    sentences = []
    for source in bot.sources:
        for match in re.finditer(r"[^\n]+?(?:\.(?=\s)|$)", source.text):
            if match.group().strip():
                sentences.append((source, match.start(), match.end()))
    model = BM25Okapi([source.text[a:b].split() for source, a, b in sentences])

    def ask(question: str) -> Answer:
        scores = model.get_scores(question.split())
        top = sorted(range(len(scores)), key=lambda i: -scores[i])[:3]
        return Answer(question, True, [Excerpt(*sentences[i], scores[i], 0.0) for i in top])

    return ask


def main(paths: list[str]) -> None:
    files = [Path(p) for p in paths] or [
        ROOT / "tests" / "data" / "dev-questions.jsonl",
        ROOT / "tests" / "data" / "more-questions.jsonl",
    ]
    config = load_config(ROOT / "config.toml")
    rows = [("naive BM25Okapi, whitespace, sentences", naive_asker(StoryBot(config)))]
    for variant in ("BM25L", "BM25Plus", "BM25Okapi"):
        for threshold in (0.0, 0.45, 0.6):
            settings = replace(config.retrieval, variant=variant, min_coverage=threshold)
            bot = StoryBot(replace(config, retrieval=settings))
            rows.append(
                (f"storybot {variant}, min_coverage {threshold}", lambda q, b=bot: b.ask(q, 3))
            )
    print(f"{'setting':44}" + "".join(f" | {f.stem[:14]:^38}" for f in files))
    print(f"{'':44}" + " | hit@1  hit@3  MRR    abstain P/R     " * len(files))
    for name, ask in rows:
        cells = []
        for f in files:
            r = evaluate(ask, read_labelled(f))
            cells.append(
                f"{r.hit_at_1:5.0%}  {r.hit_at_3:5.0%}  {r.mrr:.3f}  "
                f"{r.abstention_precision:4.0%}/{r.abstention_recall:4.0%}   "
            )
        print(f"{name:44}" + "".join(f" | {c:38}" for c in cells))


if __name__ == "__main__":
    main(sys.argv[1:])
