"""Calibrate the feed relevance threshold on SQuAD articles as other "stories".

    .venv/bin/python bench/feeds_relevance.py [--negatives 100] [--split half|alternate]

Each of the 20 SQuAD 2.0 dev articles in ../shared/eval/squad2-dev20 (Rajpurkar, Jia and Liang
2018, CC BY-SA 4.0; read in place, never copied here) is one story. Its first half of
paragraphs is the corpus ("the story so far"); each paragraph of its second half is new
coverage of the story (on topic), and paragraphs of the other 19 articles are other news (off
topic, a fixed random sample per article). Each such paragraph becomes a feed item as the poller
sees it:

- *item*: its first two sentences (a feed entry's title and summary);
- *text*: the paragraph and the next one of the same article (the fetched page's text).

Both are scored with ``StoryBot.match`` (the answer rule's evidence with the semantic layer;
the best coverage without it) and the poller's rule is applied: queued when
``max(item, text) >= t``, the page being fetched only when ``item >= PREFILTER * t``. The
threshold is chosen by F1, cross-validated in two folds by article (chosen on ten articles,
measured on the other ten); the table shows the trade-off around it. Precision depends on how
many items of a feed are on topic: besides the bench's own mix it is projected for a feed where
1 item in 20 is about the story.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.engine import StoryBot  # noqa: E402
from bot.search.text import Analyzer  # noqa: E402
from bot.sources.feeds.poller import PREFILTER  # noqa: E402
from bot.sources.relevance import MASKED_SHARE, STORY_NAMES, story_names  # noqa: E402

SQUAD = ROOT.parent / "shared" / "eval" / "squad2-dev20" / "stories"
# A feed where one item in this many is about the story (for the projected precision).
PROJECTED_MIX = 20


@dataclass
class Scored:
    article: str
    on_topic: bool
    item: float  # title + summary
    text: float  # the fetched text
    # The words shared with the closest passage, of whichever of the two decides.
    terms: tuple[str, ...] = ()
    names: tuple[str, ...] = ()  # the story's terms by the number of passages, most first
    same_name: bool = False  # an off-topic item made to mention the story's most frequent name
    # The better evidence of the two with the story's 1 or 3 most frequent names masked
    # (semantic mode, items whose evidence reaches MASK_FROM only; else None: not computed).
    masked1: float | None = None
    masked3: float | None = None


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in text.split("\n\n") if p.strip()]


def split(paras: list[str], how: str) -> tuple[list[str], list[str]]:
    if how == "alternate":
        return paras[0::2], paras[1::2]
    half = len(paras) // 2
    return paras[:half], paras[half:]


def item_of(paragraph: str, analyzer: Analyzer) -> str:
    sentences = [s.text.strip() for s in analyzer.doc(paragraph).sents]
    return " ".join(sentences[:2])


def surface(term: str, text: str) -> str:
    """The commonest spelling of ``term`` in ``text`` (e.g. "Normans" for "norman")."""
    found = re.findall(rf"\b{re.escape(term)}\w*", text, flags=re.IGNORECASE)
    return Counter(found).most_common(1)[0][0] if found else term.capitalize()


def mask(text: str, names: tuple[str, ...]) -> str:
    """``text`` without the words whose lowercase form is one of ``names`` (or it plus a
    plural "s"), as ``bot.sources.relevance.mask`` does."""
    from bot.sources.relevance import mask as masked

    return masked(text, frozenset(names))


def same_name(paragraph: str, name: str) -> str:
    """Other news that mentions the story's most frequent name: every sentence starts with it
    ("Netflix adds 2.2 million subscribers" beside a story about a Netflix film)."""
    sentences = re.split(r"(?<=[.!?])\s+", paragraph)
    return " ".join(f"{name}: {s}" for s in sentences)


def score_all(args, work: Path) -> dict[str, list[Scored]]:
    """Per mode ("semantic", "lexical"), every item scored."""
    config = load_config(ROOT / "config.toml")
    analyzer = Analyzer(config.nlp.model)
    modes = {
        "semantic": config,
        "lexical": replace(config, semantic=replace(config.semantic, enabled=False)),
    }
    stories = {p.stem: paragraphs(p.read_text(encoding="utf-8")) for p in sorted(SQUAD.glob("*"))}
    rng = random.Random(0)
    out: dict[str, list[Scored]] = {mode: [] for mode in modes}
    for name, paras in stories.items():
        corpus, held = split(paras, args.split)
        others = [(o, i) for o in stories if o != name for i in range(len(stories[o]))]
        negatives = rng.sample(others, min(args.negatives, len(others)))
        hard = negatives[: args.same_name]
        items = [(True, held, i) for i in range(len(held))]
        items += [(False, stories[o], i) for o, i in negatives]
        for mode, settings in modes.items():
            bot = StoryBot.over_text(
                settings, name.replace("_", " "), "\n\n".join(corpus), work / mode / name,
                analyzer=analyzer,
            )  # fmt: skip
            counts = Counter(t for p in bot.passages for t in set(p.terms))
            names = tuple(t for t, _ in counts.most_common(10))
            # The names masked (the story's most used capitalised words, as the bot finds
            # them); other news is made to mention the first.
            hidden = {n: frozenset(story_names(corpus, n)) for n in (1, 3)}
            top = surface(next(iter(hidden[1])), "\n\n".join(corpus))
            hard_items = [
                (False, [same_name(p, top) for p in stories[o][i : i + 2]], 0, True)
                for o, i in hard
            ]
            for on_topic, source, i, named in [(*x, False) for x in items] + hard_items:
                text = "\n\n".join(source[i : i + 2])
                first = bot.match(item_of(source[i], analyzer))
                second = bot.match(text)
                best = max(first, second, key=lambda m: m.evidence)
                row = Scored(
                    name, on_topic, first.evidence, second.evidence, best.terms, names, named
                )
                if mode == "semantic" and best.evidence >= MASK_FROM:
                    for n in (1, 3):
                        masked = max(
                            bot.match(mask(item_of(source[i], analyzer), hidden[n])).evidence,
                            bot.match(mask(text, hidden[n])).evidence,
                        )
                        setattr(row, f"masked{n}", masked)
                out[mode].append(row)
        print(f"  {name}: {len(held)} on topic, {len(negatives)} off topic", file=sys.stderr)
    return out


# Rules tried beside the evidence threshold: (story names left out of the shared words,
# shared words needed, story names masked, share of t the masked text must reach). The
# shipped one (bot/sources/relevance.py) masks; (0, 0) is the evidence threshold alone.
RULE = (0, 0, STORY_NAMES, MASKED_SHARE)
# Masked evidence is computed only for items at least this relevant (semantic mode).
MASK_FROM = 0.8


def queued(
    s: Scored, t: float, fetch: bool, prefilter: float = PREFILTER, rule: tuple = RULE
) -> bool:
    names, needed, masked_names, ratio = (*rule, 0, 0.0)[:4]
    if needed and sum(term not in s.names[:names] for term in s.terms) < needed:
        return False
    masked = s.masked1 if masked_names == 1 else s.masked3
    if ratio and masked is not None and masked < ratio * t:
        return False
    if not fetch:
        return s.item >= t
    return s.item >= prefilter * t and max(s.item, s.text) >= t


def figures(
    rows: list[Scored],
    t: float,
    fetch: bool = True,
    prefilter: float = PREFILTER,
    rule: tuple = RULE,
) -> dict[str, float]:
    pos = [s for s in rows if s.on_topic]
    neg = [s for s in rows if not s.on_topic and not s.same_name]
    named = [s for s in rows if s.same_name]
    tp = sum(queued(s, t, fetch, prefilter, rule) for s in pos)
    fp = sum(queued(s, t, fetch, prefilter, rule) for s in neg)
    recall, fpr = tp / len(pos), fp / len(neg)
    precision = tp / (tp + fp) if tp + fp else 1.0
    prior = 1 / PROJECTED_MIX
    projected = recall * prior / (recall * prior + fpr * (1 - prior)) if recall or fpr else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    fetched = sum(s.item >= prefilter * t for s in neg) / len(neg) if fetch else 0.0
    named_fp = sum(queued(s, t, fetch, prefilter, rule) for s in named) / max(1, len(named))
    return {
        "same_name_queued": named_fp,
        "precision": precision,
        "recall": recall,
        "fpr": fpr,
        "f1": f1,
        "projected": projected,
        "fetched_off_topic": fetched,
    }


def best_threshold(
    rows: list[Scored], grid: list[float], fetch: bool = True, rule: tuple = RULE
) -> float:
    return max(grid, key=lambda t: (figures(rows, t, fetch, rule=rule)["f1"], -t))


def rule_report(rows: list[Scored], t: float) -> None:
    """Before/after the shared-word rule at the threshold ``t``, on the bench's mix and on
    other news that mentions the story's most frequent name (``same_name``)."""
    print(f"\nRules beside the evidence at t = {t:.2f} (names: the story's N most frequent "
          "terms; shared: words in common with the closest passage besides them; masked: "
          "the evidence with the names masked):\n")  # fmt: skip
    print("| names left out | shared words needed | masked evidence | precision | recall "
          "| off-topic queued | same-name news queued | F1 |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    rules = [(0, 0), *((n, m) for n in (0, 1, 3, 5) for m in (1, 2, 3, 4))]
    rules += [(0, 0, k, r) for k in (1, 3) for r in (0.6, 0.7, 0.8, 0.85, 0.9, 0.95)]
    rules += [(3, 2, k, r) for k in (1, 3) for r in (0.8, 0.9)]
    for rule in rules:
        f = figures(rows, t, rule=rule)
        mark = "**" if (*rule, 0, 0.0)[:4] == RULE else ""
        label = "(evidence alone, before)" if rule == (0, 0) else f"{mark}{rule[0]}{mark}"
        masked = f"{rule[2]} names masked: ≥ {rule[3]:.0%} of t" if len(rule) > 2 else ""
        print(f"| {label} | {mark}{rule[1]}{mark} | {masked} | {f['precision']:.3f} "
              f"| {f['recall']:.3f} | {f['fpr']:.1%} | {f['same_name_queued']:.1%} "
              f"| {f['f1']:.3f} |")  # fmt: skip


def report(
    mode: str, rows: list[Scored], grid: list[float], shipped: float, digits: int = 2
) -> None:
    articles = sorted({s.article for s in rows})
    folds = [set(articles[0::2]), set(articles[1::2])]
    print(f"\n## {mode}: {sum(s.on_topic for s in rows)} on-topic, "
          f"{sum(not s.on_topic and not s.same_name for s in rows)} off-topic items, "
          f"{sum(s.same_name for s in rows)} same-name items\n")  # fmt: skip
    print("Cross-validated (threshold chosen by F1 on one half of the articles, measured on the")
    print("other):\n")
    print("| fold | chosen t | precision | recall | off-topic queued |")
    print("|---|---|---|---|---|")
    tp = fp = pos = neg = 0
    for k, test in enumerate(folds, 1):
        train_rows = [s for s in rows if s.article not in test]
        test_rows = [s for s in rows if s.article in test]
        t = best_threshold(train_rows, grid)
        f = figures(test_rows, t)
        n_pos = sum(s.on_topic for s in test_rows)
        n_neg = len(test_rows) - n_pos
        tp += round(f["recall"] * n_pos)
        fp += round(f["fpr"] * n_neg)
        pos, neg = pos + n_pos, neg + n_neg
        print(
            f"| {k} | {t:.{digits}f} | {f['precision']:.3f} | {f['recall']:.3f} | {f['fpr']:.1%} |"
        )
    print(f"| both | | {tp / max(tp + fp, 1):.3f} | {tp / pos:.3f} | {fp / neg:.1%} |")
    chosen = best_threshold(rows, grid)
    print(f"\nChosen on all articles: t = {chosen:.{digits}f}\n")
    rule_report(rows, shipped)
    print("| t | precision (bench mix) | recall | off-topic queued | precision at 1 in "
          f"{PROJECTED_MIX} | off-topic pages fetched | recall without fetching |")  # fmt: skip
    print("|---|---|---|---|---|---|---|")
    for t in sorted({*grid[:: max(1, len(grid) // 12)], chosen}):
        f, plain = figures(rows, t), figures(rows, t, fetch=False)
        mark = "**" if t == chosen else ""
        print(
            f"| {mark}{t:.{digits}f}{mark} | {f['precision']:.3f} | {f['recall']:.3f} "
            f"| {f['fpr']:.1%} | {f['projected']:.3f} | {f['fetched_off_topic']:.1%} "
            f"| {plain['recall']:.3f} |"
        )
    print(f"\nThe prefilter at t = {chosen:.{digits}f} (a page is fetched when its title and "
          "summary reach this share of t):\n")  # fmt: skip
    print("| prefilter | recall | off-topic queued | off-topic pages fetched |")
    print("|---|---|---|---|")
    for share in (0.0, 0.6, 0.7, 0.8, 0.9, 1.0):
        f = figures(rows, chosen, prefilter=share)
        mark = "**" if share == PREFILTER else ""
        print(f"| {mark}{share:.0%}{mark} | {f['recall']:.3f} | {f['fpr']:.1%} "
              f"| {f['fetched_off_topic']:.1%} |")  # fmt: skip


def json_load(path: Path) -> dict[str, list[Scored]]:
    raw = json.loads(path.read_text())
    return {
        mode: [
            Scored(**(r | {"terms": tuple(r["terms"]), "names": tuple(r["names"])})) for r in rows
        ]
        for mode, rows in raw.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--negatives", type=int, default=100, help="off-topic items per article")
    parser.add_argument("--split", choices=("half", "alternate"), default="half")
    parser.add_argument(
        "--same-name",
        type=int,
        default=30,
        help="off-topic items per article made to mention the story's most frequent name",
    )
    parser.add_argument("--pickle", type=Path, help="keep the scores here and reuse them")
    parser.add_argument("--work", type=Path, help="keep corpora and caches here (default: temp)")
    args = parser.parse_args()
    if not SQUAD.exists():
        sys.exit(f"{SQUAD} not found: no calibration data")
    started = time.perf_counter()
    if args.pickle and args.pickle.exists():
        scored = json_load(args.pickle)
    else:
        with tempfile.TemporaryDirectory() as temp:
            scored = score_all(args, args.work or Path(temp))
        if args.pickle:
            args.pickle.write_text(
                json.dumps({m: [asdict(s) for s in r] for m, r in scored.items()})
            )
    print(f"# Feed relevance on SQuAD 2.0 dev (20 articles, split: {args.split}, "
          f"{time.perf_counter() - started:.0f} s)")  # fmt: skip
    settings = load_config(ROOT / "config.toml").feeds
    grid = [x / 100 for x in range(50, 151, 2)]
    report("semantic (shipped)", scored["semantic"], grid, settings.min_relevance)
    grid = [x / 1000 for x in range(20, 301, 5)]
    report("semantic off (coverage)", scored["lexical"], grid, settings.min_relevance_lexical, 3)


if __name__ == "__main__":
    main()
