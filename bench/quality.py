"""Answer quality, counted as members see the replies: the README's quality tables.

    .venv/bin/python bench/quality.py [--off-topic N] [--squad-split test|tune|train|all]

Settings compared: the shipped one (semantic layer + answer judge), the semantic layer without
the judge (the evidence rule), BM25 alone, and plain rank-bm25 (BM25Okapi over whitespace
tokens, top 3, always answering). Question sets: tests/data/dev-questions.jsonl (the team's sample),
tests/data/more-questions.jsonl (ours, written from the story: a regression pin), and where
../shared/eval exists, member-questions.jsonl (phrased the way members ask) and squad2-dev20
(SQuAD 2.0 dev, CC BY-SA 4.0, Rajpurkar, Jia and Liang 2018; one corpus per article). The
answer judge was fitted on the "train" articles and its thresholds chosen on the "tune"
ones (bot.search.evaluate.SQUAD_SPLIT): report "test", which neither ever saw. The shared data
is read in place, never copied into the repo; without it only dev and more are measured
(bench/squad_subset.py rebuilds squad2-dev20 from the official SQuAD 2.0 dev file;
docs/answers.md, "Evaluation data").

Per set: replies (answer / closest / nothing), shown hit@1 and hit@3 (the first passages the
member sees, answer or closest), precision of confident answers, unanswerable questions answered
confidently; for SQuAD also off-topic questions given nothing and the mean excerpt length.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bot.config import load_config
from bot.engine import StoryBot
from bot.search.evaluate import (
    SQUAD_SPLIT,
    evaluate,
    evaluate_story_set,
    plain_bm25_asker,
    read_labelled,
    read_story_set,
)

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "eval"
LABELLED = {
    "dev": ROOT / "tests" / "data" / "dev-questions.jsonl",
    "more": ROOT / "tests" / "data" / "more-questions.jsonl",
    "member": SHARED / "member-questions.jsonl",
}
SQUAD = SHARED / "squad2-dev20"
PLAIN = "plain rank-bm25"
SETTINGS = {
    "**storybot (shipped: semantic + answer judge)**": (True, True),
    "storybot, no answer judge": (True, False),
    "storybot, semantic off (BM25 alone)": (False, False),
}


# ``--semantic windows=derived`` etc.: [semantic] settings to measure instead of the shipped ones.
OVERRIDES: dict[str, str] = {}


def settings(semantic: bool, judge: bool):
    config = load_config(ROOT / "config.toml")
    return replace(
        config,
        semantic=replace(config.semantic, enabled=semantic, **OVERRIDES),
        retrieval=replace(config.retrieval, judge=judge),
    )


def pct(rate: float | None) -> str:
    return "—" if rate is None else f"{rate:.0%}"


def labelled_rows(work: Path) -> None:
    story = ROOT / "corpus"
    print(
        "| setting | set | answer / closest / nothing | shown hit@1 | shown hit@3 | "
        "confident answers right | unanswerable answered |"
    )
    print("|---|---|---|---|---|---|---|")
    plain_rows = []
    for name, (semantic, judge) in SETTINGS.items():
        config = replace(settings(semantic, judge), corpus_dir=story, state_dir=work / name)
        bot = StoryBot(config)
        for label, path in LABELLED.items():
            if not path.exists():
                continue
            items = read_labelled(path)
            r = evaluate(lambda q, b=bot: b.ask(q, 3), items)
            d = r.as_dict()
            k = d["replies"]
            print(
                f"| {name} | {label} | {k['answer']} / {k['closest']} / {k['nothing']} | "
                f"{r.shown_hits_at_1}/{r.answerable} | {r.shown_hits_at_3}/{r.answerable} | "
                f"{pct(r.confident_precision)} | {d['unanswerable_answered']}/{r.unanswerable} |"
            )
            if name.startswith("**"):
                plain = plain_bm25_asker(bot.passages, {s.id: s for s in bot.sources})
                p = evaluate(plain, items)
                plain_rows.append(
                    f"| {PLAIN} | {label} | {len(items)} / 0 / 0 | {p.hits_at_1}/{p.answerable} "
                    f"| {p.hits_at_3}/{p.answerable} | {pct(p.hits_at_3 / len(items))} | "
                    f"{p.unanswerable}/{p.unanswerable} |"
                )
    for row in plain_rows:
        print(row)


def squad_rows(work: Path, off_topic: int, split: str) -> None:
    if not SQUAD.exists():
        print(f"({SQUAD} not found: no SQuAD figures)")
        return
    stories, questions = read_story_set(SQUAD)
    only = None if split == "all" else (lambda name: SQUAD_SPLIT.get(name) == split)
    results = {}
    for name, (semantic, judge) in SETTINGS.items():
        config = settings(semantic, judge)

        def askers(story: str, text: str, config=config, name=name) -> dict:
            directory = work / Path(story).stem
            bot = StoryBot.over_text(config, Path(story).stem, text, directory)
            out = {name: lambda q: bot.ask(q, 3)}
            if name.startswith("**"):
                out[PLAIN] = plain_bm25_asker(bot.passages, {s.id: s for s in bot.sources})
            return out

        started = time.perf_counter()
        reports = evaluate_story_set(
            stories, questions, askers, off_topic_per_story=off_topic, only=only
        )
        results.update({k: v.as_dict() for k, v in reports.items()})
        print(f"({name}: {time.perf_counter() - started:.0f} s)")
    print(
        f"SQuAD 2.0, {split} articles: "
        + ", ".join(n.removesuffix(".txt") for n in stories if only is None or only(n))
    )
    print(
        "| setting | own questions: answer / closest / nothing | shown hit@1 | shown hit@3 | "
        "confident answers right | SQuAD-unanswerable answered | off-topic given nothing | "
        "mean excerpt |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        k = r["replies"]
        print(
            f"| {name} | {k['answer']} / {k['closest']} / {k['nothing']} | "
            f"{r['shown_hit@1']:.1%} | {r['shown_hit@3']:.1%} | "
            f"{pct(r['confident_precision'])} | {r['unanswerable_answered']:.1%} | "
            f"{r['off_topic_nothing']:.1%} | {r['mean_excerpt_chars']} chars |"
        )
    print("(own questions: answerable and SQuAD-unanswerable questions of each article)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--off-topic", type=int, default=100, help="per SQuAD story")
    parser.add_argument("--squad-split", default="test", choices=("test", "tune", "train", "all"))
    parser.add_argument("--skip-labelled", action="store_true")
    parser.add_argument(
        "--semantic",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a [semantic] setting to use instead of the shipped one (e.g. windows=derived)",
    )
    args = parser.parse_args()
    OVERRIDES.update(item.split("=", 1) for item in args.semantic)
    with tempfile.TemporaryDirectory() as tmp:
        if not args.skip_labelled:
            labelled_rows(Path(tmp) / "labelled")
            print()
        squad_rows(Path(tmp) / "squad", args.off_topic, args.squad_split)


if __name__ == "__main__":
    main()
