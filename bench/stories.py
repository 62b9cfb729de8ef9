"""Many stories in one process: ``nice -n 5 .venv/bin/python bench/stories.py [--stories 20]
[--passages 500] [--max-loaded 5] [--semantic [--fake-vectors]]``.

Builds N stories of about P passages each (synthetic sentences, seeded) in a temporary state
directory, warms every story's caches in one process, then in a fresh process measures: start
to ready (the registry open, no story loaded), the first question to each story (cold: its
index is built from the warm caches) as p50 and max, a warm story's ask p50, how many stories
stay loaded (``[stories] max_loaded``) and the peak RSS. A story's index is built from its
sources' persisted segments (``bot/stories/index.py``, ``bot/search/snapshot.py``).

``--fake-vectors``: the warming step stores pseudo-random unit vectors instead of running the
model (embedding 400k passages takes about half an hour on 2 cores); the measuring process
loads the real model and reads those vectors like any others, so start, load, ask and memory
figures are the real ones (answers are not: nothing here checks them).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

WORDS = (
    "harbour ferry council bridge market fire silo river mayor school strike storm flood "
    "police court station museum festival election budget hospital train airport factory "
    "union farmer island tower library theatre stadium park tunnel canal port quay dock "
    "crew captain engineer doctor teacher judge minister reporter witness owner driver"
).split()
VERBS = "opened closed moved built reported announced visited repaired delayed approved".split()


def sentence(rng: random.Random, story: int) -> str:
    a, b = rng.sample(WORDS, 2)
    return (
        f"The {a} of district {story} {rng.choice(VERBS)} the {b} on day {rng.randint(1, 365)} "
        f"after {rng.randint(2, 90)} people met."
    )


def build(state: Path, stories: int, passages: int, semantic: bool, max_loaded: int) -> Path:
    from bot.config import config_from_dict
    from bot.engine import StoryBot
    from bot.sources.corpus import Corpus, Source

    data = tomllib.loads((REPO / "config.toml").read_text(encoding="utf-8"))
    data["semantic"]["enabled"] = semantic
    data["stories"] = {"max_loaded": max_loaded}
    data["stats"]["log_questions"] = False
    config_path = state / "config.json"
    config_path.write_text(json.dumps(data), encoding="utf-8")
    (state / "corpus").mkdir()
    bot = StoryBot(config_from_dict(data, base=state), load=False)
    rng = random.Random(2026)
    for n in range(stories):
        record = bot.stories.create(f"story-{n}")
        corpus = Corpus(bot.in_story(record).corpus.directory)
        per_source = max(1, passages // 5)
        for s in range(5):
            text = " ".join(sentence(rng, n) for _ in range(per_source + 1))
            corpus.write(Source(id=f"s{n}-{s}", title=f"Source {s} of story {n}", text=text))
    return config_path


def warm(config_path: Path, fake_vectors: bool = False) -> None:
    """Every story's passage (and vector) caches, built once."""
    if fake_vectors:
        sys.path.insert(0, str(REPO / "bench"))
        from speed import fake_vectors as use_fake_vectors

        use_fake_vectors()
    from bot.config import config_from_dict
    from bot.engine import StoryBot

    data = json.loads(config_path.read_text(encoding="utf-8"))
    bot = StoryBot(config_from_dict(data, base=config_path.parent), load=False)
    for record in bot.stories.all():
        if record.name.startswith("story-"):
            story = bot.in_story(record)
            story.open_story.story.loaded()
            story.open_story.story.unload()


def measure(config_path: Path) -> dict:
    started = time.perf_counter()
    from bot.config import config_from_dict
    from bot.engine import StoryBot

    data = json.loads(config_path.read_text(encoding="utf-8"))
    bot = StoryBot(config_from_dict(data, base=config_path.parent), load=False)
    ready = time.perf_counter() - started
    records = [r for r in bot.stories.all() if r.name.startswith("story-")]
    cold = []
    for record in records:
        story = bot.in_story(record)
        t = time.perf_counter()
        story.ask(f"What did the harbour of district {record.name[6:]} open?")
        cold.append(time.perf_counter() - t)
    last = bot.in_story(records[-1])
    warm_times = []
    for i in range(30):
        t = time.perf_counter()
        last.ask(f"Which ferry of district {records[-1].name[6:]} was delayed on day {i}?")
        warm_times.append(time.perf_counter() - t)
    return {
        "ready_s": ready,
        "cold_p50_s": statistics.median(cold),
        "cold_max_s": max(cold),
        "first_cold_s": cold[0],
        "warm_p50_ms": statistics.median(warm_times) * 1000,
        "loaded": len(bot.registry.loaded()),
        "passages": len(last.passages),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stories", type=int, default=20)
    parser.add_argument("--passages", type=int, default=500, help="about this many per story")
    parser.add_argument("--max-loaded", type=int, default=5)
    parser.add_argument("--semantic", action="store_true", help="with the embedding model")
    parser.add_argument(
        "--fake-vectors",
        action="store_true",
        help="warm the vector caches with pseudo-random vectors (fast; see the docstring)",
    )
    parser.add_argument("--step", choices=("warm", "measure"), help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "warm":
        warm(args.config, args.fake_vectors)
        return
    if args.step == "measure":
        print(json.dumps(measure(args.config)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        t = time.perf_counter()
        config = build(state, args.stories, args.passages, args.semantic, args.max_loaded)
        me = [sys.executable, __file__, "--config", str(config)]
        fake = ["--fake-vectors"] if args.fake_vectors else []
        subprocess.run([*me, "--step", "warm", *fake], check=True)
        warm_s = time.perf_counter() - t
        out = subprocess.run([*me, "--step", "measure"], check=True, capture_output=True)
        figures = json.loads(out.stdout.decode().strip().splitlines()[-1])
    print(
        f"{args.stories} stories x ~{args.passages} passages, semantic "
        f"{'on' if args.semantic else 'off'}{' (fake vectors)' if args.fake_vectors else ''}, "
        f"max_loaded {args.max_loaded} "
        f"(building and warming the caches: {warm_s:.0f} s)"
    )
    print("| figure | value |")
    print("|---|---:|")
    print(f"| start to ready (registry open, nothing loaded) | {figures['ready_s']:.2f} s |")
    print(f"| first question to a cold story (warm caches), p50 | {figures['cold_p50_s']:.2f} s |")
    print(f"| ... max | {figures['cold_max_s']:.2f} s |")
    print(f"| ... the very first (spaCy, model load included) | {figures['first_cold_s']:.2f} s |")
    print(f"| warm story ask p50 | {figures['warm_p50_ms']:.1f} ms |")
    print(f"| stories loaded at the end | {figures['loaded']} |")
    print(f"| passages in the last story | {figures['passages']} |")
    print(f"| peak RSS | {figures['peak_rss_mb']:.0f} MB |")


if __name__ == "__main__":
    main()
