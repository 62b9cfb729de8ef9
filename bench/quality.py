"""Answer quality with and without the semantic layer, next to plain rank-bm25: the README's
quality table.

    .venv/bin/python bench/quality.py [--off-topic N]

Question sets: tests/data/dev-questions.jsonl (the team's sample), tests/data/more-questions.jsonl
(ours, written from the story), and where ../shared/eval exists, member-questions.jsonl (phrased
the way members ask) and squad2-dev20 (SQuAD 2.0 dev, 20 articles, one corpus each; CC BY-SA 4.0,
Rajpurkar, Jia and Liang 2018). The shared data is read in place, never copied into the repo.
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


# ``--semantic windows=derived`` etc.: [semantic] settings to measure instead of the shipped ones.
OVERRIDES: dict[str, str] = {}


def settings(semantic: bool):
    config = load_config(ROOT / "config.toml")
    return replace(config, semantic=replace(config.semantic, enabled=semantic, **OVERRIDES))


def labelled_rows(work: Path) -> None:
    story = ROOT / "corpus"
    print("| setting | set | answered | hit@1 | hit@3 | MRR | refused (unanswerable) |")
    print("|---|---|---|---|---|---|---|")
    for name, semantic in (("storybot (semantic)", True), ("storybot, semantic off", False)):
        config = replace(settings(semantic), corpus_dir=story, state_dir=work / name)
        bot = StoryBot(config)
        for label, path in LABELLED.items():
            if not path.exists():
                continue
            r = evaluate(lambda q, b=bot: b.ask(q, 3), read_labelled(path))
            answered = r.answerable - r.abstained_wrong
            print(
                f"| {name} | {label} | {answered}/{r.answerable} | {r.hit_at_1:.0%} | "
                f"{r.hit_at_3:.0%} | {r.mrr:.3f} | {r.abstained_right}/{r.unanswerable} |"
            )
        if semantic:
            sources = {s.id: s for s in bot.sources}
            plain = plain_bm25_asker(bot.passages, sources)
            for label, path in LABELLED.items():
                if path.exists():
                    r = evaluate(plain, read_labelled(path))
                    print(
                        f"| plain rank-bm25 (same passages) | {label} | {r.answerable}/"
                        f"{r.answerable} | {r.hit_at_1:.0%} | {r.hit_at_3:.0%} | {r.mrr:.3f} | "
                        f"0/{r.unanswerable} |"
                    )


def squad_rows(work: Path, off_topic: int) -> None:
    if not SQUAD.exists():
        print(f"({SQUAD} not found: no SQuAD figures)")
        return
    stories, questions = read_story_set(SQUAD)
    results = {}
    for name, semantic in (("storybot (semantic)", True), ("storybot, semantic off", False)):
        config = settings(semantic)

        def askers(story: str, text: str, config=config, name=name) -> dict:
            directory = work / name / Path(story).stem
            bot = StoryBot.over_text(config, Path(story).stem, text, directory)
            out = {name: lambda q: bot.ask(q, 3)}
            if config.semantic.enabled:
                out["plain rank-bm25 (same passages)"] = plain_bm25_asker(
                    bot.passages, {s.id: s for s in bot.sources}
                )
            return out

        started = time.perf_counter()
        reports = evaluate_story_set(stories, questions, askers, off_topic_per_story=off_topic)
        results.update({k: v.as_dict() for k, v in reports.items()})
        print(f"({name}: {time.perf_counter() - started:.0f} s)")
    print(
        "| setting | hit@1 | hit@3 | MRR | answer rate | off-topic refused | "
        "SQuAD-unanswerable refused | mean excerpt chars |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, r in results.items():
        print(
            f"| {name} | {r['hit@1']:.1%} | {r['hit@3']:.1%} | {r['mrr']:.3f} | "
            f"{r['answer_rate']:.1%} | {r['off_topic_refused']:.1%} | "
            f"{r['unanswerable_refused']:.1%} | {r['mean_excerpt_chars']} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--off-topic", type=int, default=100, help="per SQuAD story")
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
        labelled_rows(Path(tmp))
        print()
        squad_rows(Path(tmp), args.off_topic)


if __name__ == "__main__":
    main()
