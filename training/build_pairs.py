"""Candidate windows for every SQuAD question, as the bot ranks them today: the training and
tuning data of the re-ranker (see training/README.md).

    .venv/bin/python training/build_pairs.py [--squad ../shared/eval/squad2-dev20] [--out DIR]

For each of the 20 articles (one corpus each, built with the shipped config) and each of its
questions, plus 100 answerable questions of other articles asked of it (off-topic), writes one
JSON line: the article, its split (train/tune/test, bot.search.evaluate.SQUAD_SPLIT), the
question, its kind (answerable / unanswerable / off_topic), the evidence of today's answer rule
and the top candidates (window text, fused score, coverage, best sentence cosine, whether it
holds a gold answer and whether it lies in the gold paragraph), plus every window of the gold
paragraph that holds an answer (positives retrieval may have missed).
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
from pathlib import Path

from bot.config import load_config
from bot.engine import StoryBot
from bot.search.evaluate import SQUAD_SPLIT, read_story_set

ROOT = Path(__file__).resolve().parent.parent
CANDIDATES = 20


def paragraph_spans(text: str) -> list[tuple[int, int]]:
    spans, start = [], 0
    for block in text.split("\n\n"):
        spans.append((start, start + len(block)))
        start += len(block) + 2
    return spans


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--squad", type=Path, default=ROOT.parent / "shared/eval/squad2-dev20")
    parser.add_argument("--out", type=Path, default=ROOT / "training" / "data")
    parser.add_argument("--work", type=Path, default=None, help="cache directory (reused)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.work or Path(tempfile.mkdtemp())
    stories, questions = read_story_set(args.squad)
    records = [json.loads(line) for line in (args.squad / "questions.jsonl").open()]
    config = load_config(ROOT / "config.toml")
    rng = random.Random(0)
    answerable = [(q, r) for q, r in zip(questions, records, strict=True) if q.answers]
    with (args.out / "candidates.jsonl").open("w") as out:
        for name, text in stories.items():
            bot = StoryBot.over_text(config, Path(name).stem, text, work / Path(name).stem)
            retriever = bot.retriever
            passages = retriever.index.passages
            source = retriever.sources[passages[0].source_id]
            paragraphs = paragraph_spans(source.text)
            own = [(q, r) for q, r in zip(questions, records, strict=True) if q.story == name]
            others = [x for x in answerable if x[0].story != name]
            asked = [(q, r, "answerable" if q.answers else "unanswerable") for q, r in own]
            asked += [(q, r, "off_topic") for q, r in rng.sample(others, 100)]
            for q, record, kind in asked:
                question = q.question
                concepts, read = retriever._read(question)
                terms = tuple(dict.fromkeys(t for c in concepts for t in sorted(c)))
                ranking = retriever._rank_semantic(read, concepts, terms, CANDIDATES)
                wanted = [a.casefold() for a in q.answers] if kind == "answerable" else []
                gold = paragraphs[record["paragraph_index"]] if kind == "answerable" else None

                def describe(i, ranking=ranking, wanted=wanted, gold=gold, ps=passages, src=source):
                    p = ps[i]
                    window = src.text[p.start : p.end]
                    return {
                        "i": i,
                        "text": window,
                        "fused": ranking.scores.get(i),
                        "coverage": ranking.coverage.get(i),
                        "sentence": ranking.sentence.get(i),
                        "cosine": ranking.cosine.get(i),
                        "lexical": ranking.lexical.get(i),
                        "has_answer": any(a in window.casefold() for a in wanted),
                        "in_gold": bool(gold and p.start >= gold[0] and p.end <= gold[1]),
                    }

                candidates = [describe(i) for i in ranking.candidates]
                extra = []
                if gold is not None:
                    seen = set(ranking.candidates)
                    for i, p in enumerate(passages):
                        if i in seen or not (p.start >= gold[0] and p.end <= gold[1]):
                            continue
                        d = describe(i)
                        if d["has_answer"]:
                            extra.append(d)
                row = {
                    "article": name,
                    "split": SQUAD_SPLIT[name],
                    "question": question,
                    "read": read,
                    "answers": list(q.answers),
                    "kind": kind,
                    "evidence": ranking.evidence,
                    "corpus_sentence": ranking.corpus_sentence,
                    "concepts": len(concepts),
                    "candidates": candidates,
                    "extra_positives": extra,
                }
                out.write(json.dumps(row) + "\n")
            print(name, len(asked), flush=True)


if __name__ == "__main__":
    main()
